// The janus executable's symbols that our ABI files link, for the tests of tests/abi/ (see
// janus_stubs.h). The SDP functions understand only what janus_host.cpp asks of them: m-lines
// by kind ("m=audio 9 ..."), an answer that copies the offered m-lines (port 0 when
// disabled), opus/111 and vp8/96 as the codecs found.
#include "janus_stubs.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "../../common/janus_api.h"

namespace jmedia::testing::stubs {
namespace {

std::mutex mutex;
std::map<std::string, std::string> config_values;
std::vector<std::string> lines;

}  // namespace

void set_config(std::map<std::string, std::string> values) {
  std::lock_guard lock(mutex);
  config_values = std::move(values);
}

std::vector<std::string> log_lines() {
  std::lock_guard lock(mutex);
  return lines;
}

void clear_log() {
  std::lock_guard lock(mutex);
  lines.clear();
}

bool log_contains(std::string_view text) {
  std::lock_guard lock(mutex);
  return std::ranges::any_of(
      lines, [text](const std::string& line) { return line.find(text) != std::string::npos; });
}

bool wait_for_log(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!log_contains(text)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace jmedia::testing::stubs

namespace {

janus_sdp_mline* new_mline(janus_sdp_mtype type, guint16 port) {
  auto* m = g_new0(janus_sdp_mline, 1);
  m->type = type;
  m->port = port;
  m->direction = JANUS_SDP_SENDRECV;
  return m;
}

// The name-value list of janus_sdp_generate_*_mline, up to JANUS_SDP_OA_DONE; -1 for a
// property these stubs do not know.
int read_mline_properties(va_list args, janus_sdp_mline* m) {
  for (int property = va_arg(args, int); property != JANUS_SDP_OA_DONE;
       property = va_arg(args, int)) {
    switch (property) {
      case JANUS_SDP_OA_MLINE:
        m->type = static_cast<janus_sdp_mtype>(va_arg(args, int));
        break;
      case JANUS_SDP_OA_ENABLED:
        if (!va_arg(args, int)) m->port = 0;
        break;
      case JANUS_SDP_OA_DIRECTION: {
        const auto direction = static_cast<janus_sdp_mdirection>(va_arg(args, int));
        if (direction != JANUS_SDP_DEFAULT) m->direction = direction;
        break;
      }
      case JANUS_SDP_OA_PT:  // NOLINT(bugprone-branch-clone): an int, not a string
        va_arg(args, int);
        break;
      case JANUS_SDP_OA_MID:
      case JANUS_SDP_OA_CODEC:
      case JANUS_SDP_OA_FMTP:
      case JANUS_SDP_OA_ACCEPT_EXTMAP:
        va_arg(args, const char*);
        break;
      case JANUS_SDP_OA_EXTENSION:
        va_arg(args, const char*);
        va_arg(args, int);
        break;
      default:
        return -1;
    }
  }
  return 0;
}

const char* kind_name(janus_sdp_mtype type) {
  switch (type) {
    case JANUS_SDP_AUDIO:
      return "audio";
    case JANUS_SDP_VIDEO:
      return "video";
    case JANUS_SDP_APPLICATION:
      return "application";
    default:
      return "other";
  }
}

}  // namespace

extern "C" {

int janus_log_level = 7;
gboolean janus_log_timestamps = FALSE;
gboolean janus_log_colors = FALSE;
char* janus_log_global_prefix = nullptr;
int refcount_debug = 0;

void janus_vprintf(const char* format, ...) {
  char text[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  std::lock_guard lock(jmedia::testing::stubs::mutex);
  jmedia::testing::stubs::lines.emplace_back(text);
}

janus_config* janus_config_parse(const char* config_file) {
  auto* config = g_new0(janus_config, 1);
  config->is_jcfg = TRUE;
  config->name = g_strdup(config_file);
  std::lock_guard lock(jmedia::testing::stubs::mutex);
  for (const auto& [key, value] : jmedia::testing::stubs::config_values) {
    GList** list = &config->list;
    std::string name = key;
    if (const auto dot = key.find('.'); dot != std::string::npos) {
      const std::string category = key.substr(0, dot);
      name = key.substr(dot + 1);
      janus_config_container* found = nullptr;
      for (GList* node = config->list; node != nullptr; node = node->next) {
        auto* c = static_cast<janus_config_container*>(node->data);
        if (c->type == janus_config_type_category && category == c->name) found = c;
      }
      if (found == nullptr) {
        found = g_new0(janus_config_container, 1);
        found->type = janus_config_type_category;
        found->name = g_strdup(category.c_str());
        config->list = g_list_append(config->list, found);
      }
      list = &found->list;
    }
    auto* item = g_new0(janus_config_container, 1);
    item->type = janus_config_type_item;
    item->name = g_strdup(name.c_str());
    item->value = g_strdup(value.c_str());
    *list = g_list_append(*list, item);
  }
  return config;
}

static void free_container(gpointer data) {
  auto* c = static_cast<janus_config_container*>(data);
  g_list_free_full(c->list, free_container);
  g_free(const_cast<char*>(c->name));
  g_free(const_cast<char*>(c->value));
  g_free(c);
}

void janus_config_destroy(janus_config* config) {
  if (config == nullptr) return;
  g_list_free_full(config->list, free_container);
  g_free(const_cast<char*>(config->name));
  g_free(config);
}

janus_config_container* janus_config_get(janus_config* config, janus_config_container* parent,
                                         janus_config_type type, const char* name) {
  if (config == nullptr || name == nullptr) return nullptr;
  for (GList* node = parent ? parent->list : config->list; node != nullptr; node = node->next) {
    auto* c = static_cast<janus_config_container*>(node->data);
    if ((type == janus_config_type_any || c->type == type) && std::strcmp(c->name, name) == 0)
      return c;
  }
  return nullptr;
}

janus_plugin_result* janus_plugin_result_new(janus_plugin_result_type type, const char* text,
                                             json_t* content) {
  auto* result = g_new0(janus_plugin_result, 1);
  result->type = type;
  result->text = text;
  result->content = content;
  return result;
}

void janus_plugin_result_destroy(janus_plugin_result* result) {
  if (result == nullptr) return;
  if (result->content != nullptr) json_decref(result->content);
  g_free(result);
}

gboolean janus_rtcp_has_pli(char* /*packet*/, int /*len*/) {
  return FALSE;
}
gboolean janus_rtcp_has_fir(char* /*packet*/, int /*len*/) {
  return FALSE;
}

janus_sdp* janus_sdp_parse(const char* sdp, char* error, size_t errlen) {
  if (sdp == nullptr || std::strncmp(sdp, "v=0", 3) != 0) {
    if (error != nullptr && errlen > 0) std::snprintf(error, errlen, "stub: not an SDP");
    return nullptr;
  }
  auto* parsed = g_new0(janus_sdp, 1);
  std::istringstream text(sdp);
  std::string line;
  while (std::getline(text, line)) {
    if (line.rfind("m=", 0) != 0) continue;
    janus_sdp_mtype type = JANUS_SDP_OTHER;
    if (line.rfind("m=audio", 0) == 0) type = JANUS_SDP_AUDIO;
    if (line.rfind("m=video", 0) == 0) type = JANUS_SDP_VIDEO;
    if (line.rfind("m=application", 0) == 0) type = JANUS_SDP_APPLICATION;
    const auto space = line.find(' ');
    const int port = space == std::string::npos ? 0 : std::atoi(line.c_str() + space + 1);
    parsed->m_lines = g_list_append(parsed->m_lines, new_mline(type, static_cast<guint16>(port)));
  }
  return parsed;
}

void janus_sdp_destroy(janus_sdp* sdp) {
  if (sdp == nullptr) return;
  g_list_free_full(sdp->m_lines, g_free);
  g_free(sdp);
}

char* janus_sdp_write(janus_sdp* sdp) {
  if (sdp == nullptr) return nullptr;
  std::string text = "v=0\r\n";
  for (GList* node = sdp->m_lines; node != nullptr; node = node->next) {
    auto* m = static_cast<janus_sdp_mline*>(node->data);
    text += std::string("m=") + kind_name(m->type) + " " + std::to_string(m->port) + "\r\n";
  }
  return g_strdup(text.c_str());
}

janus_sdp* janus_sdp_generate_answer(janus_sdp* offer) {
  return offer == nullptr ? nullptr : g_new0(janus_sdp, 1);
}

int janus_sdp_generate_answer_mline(janus_sdp* /*offer*/, janus_sdp* answer,
                                    janus_sdp_mline* offered, ...) {
  if (answer == nullptr || offered == nullptr) return -1;
  janus_sdp_mline* m = new_mline(offered->type, offered->port);
  va_list args;
  va_start(args, offered);
  const int result = read_mline_properties(args, m);
  va_end(args);
  answer->m_lines = g_list_append(answer->m_lines, m);
  return result;
}

janus_sdp* janus_sdp_generate_offer(const char* /*name*/, const char* /*address*/, ...) {
  return g_new0(janus_sdp, 1);  // only JANUS_SDP_OA_DONE is ever passed here
}

int janus_sdp_generate_offer_mline(janus_sdp* offer, ...) {
  if (offer == nullptr) return -1;
  janus_sdp_mline* m = new_mline(JANUS_SDP_OTHER, 9);
  va_list args;
  va_start(args, offer);
  const int result = read_mline_properties(args, m);
  va_end(args);
  offer->m_lines = g_list_append(offer->m_lines, m);
  return result;
}

void janus_sdp_find_first_codec(janus_sdp* /*sdp*/, janus_sdp_mtype type, int /*index*/,
                                const char** codec) {
  if (codec == nullptr) return;
  *codec = type == JANUS_SDP_AUDIO ? "opus" : type == JANUS_SDP_VIDEO ? "vp8" : nullptr;
}

int janus_sdp_get_codec_pt(janus_sdp* /*sdp*/, int /*index*/, const char* codec) {
  if (codec == nullptr) return -1;
  return std::strcmp(codec, "opus") == 0 ? 111 : std::strcmp(codec, "vp8") == 0 ? 96 : -1;
}

const char* janus_sdp_get_fmtp(janus_sdp* /*sdp*/, int /*index*/, int /*pt*/) {
  return nullptr;
}

janus_transport_session* janus_transport_session_create(void* transport_p, void (*p_free)(void*)) {
  auto* session = g_new0(janus_transport_session, 1);
  session->transport_p = transport_p;
  session->p_free = p_free;
  return session;
}

void janus_transport_session_destroy(janus_transport_session* session) {
  g_free(session);
}

}  // extern "C"
