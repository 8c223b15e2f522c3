#include "plugin_rig.h"

#include <glib.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

#include "../tests/unit/jwt_mint.h"
#include "fuzz_util.h"

namespace jmedia::fuzz {
namespace {

int parse_int(std::string_view text, int fallback) {
  int value = fallback;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::size_t slot_of(char c) {
  return (c >= '0' && c <= '9') ? static_cast<std::size_t>(c - '0') % PluginRig::kHandles : 0;
}

// JanusSdpEngine's output is valid UTF-8 (it is cut from the offer, a JSON string, at ASCII
// separators, and codec names come from Janus's fixed list); programmed answers are made so
// too. (With invalid UTF-8 the plugin would push a JSEP without "sdp": json_stringn refuses
// it. fuzz/README.md, "Findings".)
std::string valid_utf8(std::string_view text) {
  if (text.empty()) return "";
  gchar* valid = g_utf8_make_valid(text.data(), static_cast<gssize>(text.size()));
  std::string out(valid != nullptr ? valid : "");
  g_free(valid);
  return out;
}

bool known_request(std::string_view name) {
  for (const char* known :
       {"echo", "publish", "watch", "start", "configure", "hangup", "list", "info", "devices"}) {
    if (name == known) return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ScriptSdp

ProgrammedAnswer parse_programmed_answer(std::string_view spec) {
  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < 7; ++i) {
    const std::size_t tab = i < 6 ? spec.find('\t') : std::string_view::npos;
    fields.push_back(spec.substr(0, tab));
    if (tab == std::string_view::npos) break;
    spec.remove_prefix(tab + 1);
  }
  fields.resize(7);
  ProgrammedAnswer answer;
  for (char flag : fields[0]) {
    answer.audio |= flag == 'a';
    answer.video |= flag == 'v';
    answer.data |= flag == 'd';
    answer.refuse |= flag == 'E';
    answer.refuse_offer |= flag == 'O';
  }
  answer.media.audio_codec = valid_utf8(fields[1]);
  answer.media.audio_payload_type = parse_int(fields[2], -1);
  answer.media.video_codec = valid_utf8(fields[3]);
  answer.media.video_payload_type = parse_int(fields[4], -1);
  answer.media.video_fmtp = valid_utf8(fields[5]);
  answer.sdp = valid_utf8(fields[6]);
  return answer;
}

void ScriptSdp::queue(ProgrammedAnswer answer) {
  std::lock_guard lock(mutex_);
  if (queued_.size() < 64) queued_.push_back(std::move(answer));
}

std::vector<std::string> ScriptSdp::offers() {
  std::lock_guard lock(mutex_);
  return offers_;
}

std::optional<ProgrammedAnswer> ScriptSdp::take() {
  std::lock_guard lock(mutex_);
  if (queued_.empty()) return std::nullopt;
  ProgrammedAnswer answer = std::move(queued_.front());
  queued_.pop_front();
  return answer;
}

std::variant<Answer, Error> ScriptSdp::programmed(const ProgrammedAnswer& program,
                                                  const MediaFlags& flags) {
  if (program.refuse) return Error{ErrorCode::kInvalidSdp, "script: the offer is refused"};
  // As JanusSdpEngine: a kind is answered only when the request wants it.
  Answer answer;
  answer.audio = program.audio && flags.audio;
  answer.video = program.video && flags.video;
  answer.data = program.data && flags.data;
  if (!answer.audio && !answer.video && !answer.data) {
    return Error{ErrorCode::kInvalidSdp, "nothing to answer: every offered m-line was rejected"};
  }
  answer.sdp = program.sdp.empty() ? "v=0\r\nprogrammed\r\n" : program.sdp;
  if (answer.audio) {
    answer.media.audio_codec = program.media.audio_codec;
    answer.media.audio_payload_type = program.media.audio_payload_type;
  }
  if (answer.video) {
    answer.media.video_codec = program.media.video_codec;
    answer.media.video_payload_type = program.media.video_payload_type;
    answer.media.video_fmtp = program.media.video_fmtp;
  }
  answer.media.data = answer.data;
  return answer;
}

std::variant<Answer, Error> ScriptSdp::echo_answer(const std::string& offer_sdp,
                                                   const MediaFlags& flags) {
  {
    std::lock_guard lock(mutex_);
    if (offers_.size() < 256) offers_.push_back(offer_sdp);
  }
  if (auto program = take()) {
    auto answered = programmed(*program, flags);
    if (auto* answer = std::get_if<Answer>(&answered)) answer->media = PublisherMedia{};
    return answered;
  }
  return FakeSdp::echo_answer(offer_sdp, flags);
}

std::variant<Answer, Error> ScriptSdp::publisher_answer(const std::string& offer_sdp,
                                                        const MediaFlags& flags) {
  {
    std::lock_guard lock(mutex_);
    if (offers_.size() < 256) offers_.push_back(offer_sdp);
  }
  if (auto program = take()) return programmed(*program, flags);
  return FakeSdp::publisher_answer(offer_sdp, flags);
}

std::variant<std::string, Error> ScriptSdp::viewer_offer(const PublisherMedia& media) {
  // As JanusSdpEngine: no m-line to offer is an error.
  if (media.audio_codec.empty() && media.video_codec.empty() && !media.data) {
    return Error{ErrorCode::kNoSuchDevice, "the device sends nothing"};
  }
  if (auto program = take()) {
    if (program->refuse_offer) return Error{ErrorCode::kInternal, "script: no offer"};
    if (!program->sdp.empty()) return program->sdp;
  }
  return FakeSdp::viewer_offer(media);
}

// ---------------------------------------------------------------------------------------------
// PluginRig

PluginConfig fuzz_plugin_config() {
  PluginConfig config;
  config.shards = 4;
  config.max_sessions = 5;
  config.max_viewers_per_device = 3;
  config.queue_size = 8;
  config.worker_threads = 2;
  return config;
}

constexpr const char* kRigSecret = "the fuzz rig's HS256 secret, 32 bytes or more";

PluginConfig token_plugin_config() {
  PluginConfig config = fuzz_plugin_config();
  config.access.mode = AccessMode::kToken;
  config.access.algorithm = JwtAlgorithm::kHS256;
  config.access.key = kRigSecret;
  return config;
}

PluginConfig config_for_script(std::string_view script) {
  const std::string_view mark = "#token";
  const bool token = script.substr(0, mark.size()) == mark &&
                     (script.size() == mark.size() || script[mark.size()] == '\n');
  return token ? token_plugin_config() : fuzz_plugin_config();
}

PluginRig::PluginRig(const PluginConfig& config)
    : plugin_(std::make_unique<MediaPlugin>(host_, sdp_, config, [] {
        return TokenVerifier::Clock::time_point(std::chrono::seconds(kRigNow));
      })) {
  for (std::size_t slot = 0; slot < kHandles; ++slot) attach(slot);
}

PluginRig::~PluginRig() {
  finish();
}

void PluginRig::attach(std::size_t slot) {
  janus_plugin_session* handle = host_.new_handle();
  int error = 1;
  plugin_->create_session(handle, &error);
  FUZZ_CHECK(error == 0, "create_session failed (%d)", error);
  FUZZ_CHECK(handle->plugin_handle != nullptr, "create_session left no plugin_handle");
  handles_[slot] = handle;
  all_handles_.push_back(handle);
}

void PluginRig::detach(std::size_t slot) {
  slot %= kHandles;
  int error = 1;
  plugin_->destroy_session(handles_[slot], &error);
  FUZZ_CHECK(error == 0, "destroy_session failed (%d)", error);
  FUZZ_CHECK(handles_[slot]->plugin_handle == nullptr, "destroy_session left plugin_handle");
  // As the core: the handle is stopped; later media callbacks on it are no-ops.
  g_atomic_int_set(&handles_[slot]->stopped, 1);
  last_detached_ = handles_[slot];
  attach(slot);
}

void PluginRig::drain() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (std::size_t spins = 0; plugin_->queue_depth() != 0; ++spins) {
    FUZZ_CHECK(std::chrono::steady_clock::now() < deadline,
               "the work queue did not drain in 5 s (depth %zu)", plugin_->queue_depth());
    // A job takes microseconds: yield first (a sleep costs more than the job), then sleep.
    if (spins < 10000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

std::string PluginRig::session_id(std::size_t slot) {
  JsonPtr info = plugin_->query_session(handle(slot));
  const json_t* id = json_object_get(info.get(), "media_session");
  return json_is_string(id) ? json_string_value(id) : "";
}

std::string PluginRig::substitute_ids(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '$' && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '9') {
      out += session_id(slot_of(body[i + 1]));
      ++i;
    } else if (body[i] == '$' && i + 1 < body.size() && body[i + 1] == 'K') {
      out += token_;
      ++i;
    } else {
      out += body[i];
    }
  }
  return out;
}

void check_client_parse(const json_t* body, const json_t* jsep) {
  Parsed<ClientRequest> parsed = parse_client_request(body, jsep);
  FUZZ_CHECK(parsed.request.has_value() != parsed.error.has_value(),
             "parse_client_request: request and error both %s", parsed.request ? "set" : "unset");
  if (parsed.error) {
    const int code = numeric(parsed.error->code);
    FUZZ_CHECK((code >= 1001 && code <= 1007) || code == 1013, "parse error code %d", code);
    FUZZ_CHECK(!parsed.error->reason.empty(), "parse error %d without a reason", code);
    JsonPtr reason = adopt(json_stringn(parsed.error->reason.data(), parsed.error->reason.size()));
    FUZZ_CHECK(reason != nullptr, "parse error reason is not valid UTF-8");
    return;
  }
  FUZZ_CHECK(known_request(parsed.name), "parsed an unknown request '%s'", parsed.name.c_str());
  const json_t* sdp = json_is_object(jsep) ? json_object_get(jsep, "sdp") : nullptr;
  auto same_sdp = [&](const std::string& carried) {
    FUZZ_CHECK(json_is_string(sdp) && carried.size() == json_string_length(sdp) &&
                   std::memcmp(carried.data(), json_string_value(sdp), carried.size()) == 0,
               "the request does not carry the JSEP's SDP byte for byte");
    FUZZ_CHECK(!carried.empty(), "an empty SDP was accepted");
  };
  const bool has_jsep = jsep != nullptr && !json_is_null(jsep);
  std::visit(
      [&](const auto& request) {
        using T = std::decay_t<decltype(request)>;
        if constexpr (std::is_same_v<T, EchoRequest> || std::is_same_v<T, PublishRequest>) {
          same_sdp(request.offer_sdp);
        } else if constexpr (std::is_same_v<T, StartRequest>) {
          same_sdp(request.answer_sdp);
        } else if constexpr (std::is_same_v<T, ConfigureRequest>) {
          FUZZ_CHECK(request.offer_sdp.has_value() == has_jsep, "configure: JSEP %s but SDP %s",
                     has_jsep ? "sent" : "absent", request.offer_sdp ? "kept" : "dropped");
          if (request.offer_sdp) same_sdp(*request.offer_sdp);
        } else {
          FUZZ_CHECK(!has_jsep, "%s accepted a JSEP", typeid(T).name());
        }
        if constexpr (std::is_same_v<T, PublishRequest> || std::is_same_v<T, WatchRequest>) {
          FUZZ_CHECK(valid_device_id(request.device_id), "invalid device_id accepted");
        }
      },
      *parsed.request);
}

Reply PluginRig::message(std::size_t slot, std::string_view body, std::string_view jsep,
                         std::size_t json_flags) {
  JsonPtr body_json = parse_json(substitute_ids(body), json_flags);
  JsonPtr jsep_json = jsep.empty() ? nullptr : parse_json(jsep, json_flags);
  return message(slot, std::move(body_json), std::move(jsep_json));
}

void PluginRig::send_no_wait(std::size_t slot, std::string_view body, std::string_view jsep) {
  JsonPtr body_json = parse_json(substitute_ids(body));
  JsonPtr jsep_json = jsep.empty() ? nullptr : parse_json(jsep);
  const std::string transaction = "n" + std::to_string(++messages_);
  Reply reply = plugin_->handle_message(handle(slot), transaction.c_str(), std::move(body_json),
                                        std::move(jsep_json));
  if (reply.kind == Reply::Kind::kSync) check_plugin_body(reply.body.get(), "sync reply");
}

void PluginRig::mint(std::string_view spec) {
  const std::size_t tab = spec.find('\t');
  const std::string_view media = spec.substr(0, tab);
  int ttl = 3600;
  if (tab != std::string_view::npos) ttl = parse_int(spec.substr(tab + 1), ttl);
  const std::string payload =
      "{\"exp\":" + std::to_string(kRigNow + ttl) + ",\"media\":" + std::string(media) + "}";
  token_ = testing::mint_hs256(R"({"alg":"HS256","typ":"JWT"})", payload, kRigSecret);
  grants_.reset();
  JsonPtr claim = parse_json(media);
  auto parsed = parse_media_claim(claim.get());
  if (auto* grants = std::get_if<Grants>(&parsed)) grants_ = std::move(*grants);
}

void PluginRig::check_covered(const json_t* body, const json_t* reply) {
  if (!plugin_->token_mode() || json_object_get(reply, "error_code") != nullptr) return;
  const json_t* token = json_object_get(body, "token");
  if (token_.empty() || !json_is_string(token) || json_string_value(token) != token_) return;
  FUZZ_CHECK(grants_.has_value(), "a listing answered to a token with invalid grants");
  auto shown = [&](const json_t* item, const char* what) {
    const json_t* device = json_object_get(item, "device_id");
    FUZZ_CHECK(json_is_string(device), "token mode lists a %s without a device", what);
    FUZZ_CHECK(grants_->shows(json_string_value(device)),
               "token mode lists a %s of device '%s' the token does not cover", what,
               json_string_value(device));
  };
  for (const char* array : {"devices", "sessions"}) {
    const json_t* items = json_object_get(reply, array);
    for (std::size_t i = 0; i < json_array_size(items); ++i) shown(json_array_get(items, i), array);
  }
  if (const json_t* session = json_object_get(reply, "session")) shown(session, "session");
}

Reply PluginRig::message(std::size_t slot, JsonPtr body, JsonPtr jsep) {
  check_client_parse(body.get(), jsep.get());
  const std::string transaction = "t" + std::to_string(++messages_);
  JsonPtr request = retain(body.get());  // ours, for check_covered
  Reply reply =
      plugin_->handle_message(handle(slot), transaction.c_str(), std::move(body), std::move(jsep));
  if (reply.kind == Reply::Kind::kSync) {
    check_plugin_body(reply.body.get(), "sync reply");
    check_covered(request.get(), reply.body.get());
  } else {
    FUZZ_CHECK(reply.body == nullptr, "async reply with a body");
  }
  drain();
  return reply;
}

JsonPtr PluginRig::admin(std::string_view body) {
  JsonPtr request = parse_json(substitute_ids(body));
  JsonPtr reply = plugin_->handle_admin_message(request.get());
  FUZZ_CHECK(reply != nullptr, "handle_admin_message returned null");
  check_plugin_body(reply.get(), "admin reply");
  drain();
  return reply;
}

void PluginRig::setup_media(std::size_t slot) {
  plugin_->setup_media(handle(slot));
}

void PluginRig::hangup_media(std::size_t slot) {
  plugin_->hangup_media(handle(slot));
}

void PluginRig::run_line(std::string_view line) {
  if (line.empty()) return;
  const char op = line[0];
  line.remove_prefix(1);
  if (op == 'a') {
    admin(line);
    return;
  }
  if (op == 'A') {
    sdp_.queue(parse_programmed_answer(line));
    return;
  }
  if (op == 'k') {
    mint(line);
    return;
  }
  if (op == 't') {  // the negotiation timeout passes for every negotiation begun until now
    const std::size_t active = plugin_->sessions().active();
    const std::size_t ended = plugin_->expire_negotiations(
        monotonic_ms_now() +
        static_cast<std::int64_t>(fuzz_plugin_config().negotiation_timeout_s) * 1000);
    FUZZ_CHECK(ended <= active, "expire_negotiations ended more roles than were active");
    FUZZ_CHECK(plugin_->sessions().active() + ended <= active,
               "expire_negotiations did not free the slots of the roles it ended");
    return;
  }
  if (op == 'x') {  // a message on the handle detached last (a request racing a detach)
    if (last_detached_ == nullptr) return;
    const std::size_t tab = line.find('\t');
    JsonPtr body = parse_json(substitute_ids(line.substr(0, tab)));
    JsonPtr jsep = tab == std::string_view::npos ? nullptr : parse_json(line.substr(tab + 1));
    Reply reply =
        plugin_->handle_message(last_detached_, "stale", std::move(body), std::move(jsep));
    FUZZ_CHECK(reply.kind == Reply::Kind::kSync &&
                   check_plugin_body(reply.body.get(), "stale handle reply") == 1009,
               "a detached handle must get error 1009");
    return;
  }
  if (line.empty()) return;
  const std::size_t slot = slot_of(line[0]);
  line.remove_prefix(1);
  switch (op) {
    case 'm': {
      const std::size_t tab = line.find('\t');
      message(slot, line.substr(0, tab),
              tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1));
      break;
    }
    case 'n': {  // a message without waiting for the queue: fills it up (busy)
      const std::size_t tab = line.find('\t');
      send_no_wait(slot, line.substr(0, tab),
                   tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1));
      break;
    }
    case 's':
      setup_media(slot);
      break;
    case 'h':
      hangup_media(slot);
      break;
    case 'd':
      detach(slot);
      break;
    case 'q': {
      JsonPtr info = plugin_->query_session(handle(slot));
      FUZZ_CHECK(json_is_object(info.get()), "query_session of a live handle: no object");
      FUZZ_CHECK(json_is_string(json_object_get(info.get(), "media_session")),
                 "query_session without media_session");
      break;
    }
    case 'l':
      plugin_->slow_link(handle(slot), 0, true, false);
      break;
    default:
      break;
  }
}

void PluginRig::run_script(std::string_view script) {
  for (std::string_view line : split_lines(script, kMaxLines)) run_line(line);
}

void PluginRig::finish() {
  if (finished_) return;
  finished_ = true;
  drain();
  for (std::size_t slot = 0; slot < kHandles; ++slot) {
    int error = 1;
    plugin_->destroy_session(handles_[slot], &error);
    FUZZ_CHECK(error == 0, "final destroy_session failed (%d)", error);
  }
  drain();
  FUZZ_CHECK(plugin_->sessions().size() == 0, "%zu sessions left after every detach",
             plugin_->sessions().size());
  FUZZ_CHECK(plugin_->sessions().active() == 0, "%zu active slots left after every detach",
             plugin_->sessions().active());
  for (int role = 0; role < kRoleCount; ++role) {
    FUZZ_CHECK(plugin_->sessions().role_count(static_cast<Role>(role)) == 0,
               "role index %d not empty after every detach", role);
  }
  FUZZ_CHECK(plugin_->devices().size() == 0, "%zu devices left after every detach",
             plugin_->devices().size());
  plugin_.reset();
  for (janus_plugin_session* handle : all_handles_) {
    FUZZ_CHECK(host_.references(handle) == 0,
               "a handle has %d references left (the plugin must release its one exactly once)",
               host_.references(handle));
  }
  for (const auto& event : host_.events()) {
    JsonPtr body = parse_json(event.event);
    check_plugin_body(body.get(), "pushed event");
    JsonPtr jsep = parse_json(event.jsep);
    check_plugin_jsep(jsep.get(), "pushed jsep");
  }
}

}  // namespace jmedia::fuzz
