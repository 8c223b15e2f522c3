// The one place where janus.transport.prometheus meets Janus's C transport ABI (version 8):
// the static janus_transport struct, noexcept trampolines behind the exception barrier, and
// the exported create(). The transport serves operators only (metrics, health, readiness):
// it enables neither the Janus API nor the Admin API.
#include <dlfcn.h>

#include <atomic>
#include <memory>
#include <string>

#include "../common/abi_guard.h"
#include "../common/janus_api.h"
#include "../common/janus_config_reader.h"
#include "../common/janus_log_sink.h"
#include "../common/json.h"
#include "http_server.h"
#include "process_metrics.h"
#include "runtime.h"
#include "runtime_host.h"
#include "transport_config.h"
#include "transport_metrics.h"
#include "version.h"

#ifndef JMEDIA_JANUS_PACKAGE_VERSION
#define JMEDIA_JANUS_PACKAGE_VERSION "unknown"
#endif

namespace jmedia::transport {
namespace {

constexpr const char* kPackage = "janus.transport.prometheus";
constexpr const char* kName = "JANUS Prometheus metrics transport";
constexpr const char* kDescription =
    "Operators' HTTP endpoint: /metrics (Prometheus text format), /healthz, /readyz.";
constexpr const char* kAuthor = "janus-media contributors";

// The janus executable exports its version string (src/version.h: janus_version_string), which
// janus-dev does not ship a header for; looked up, not linked, so a janus without it still loads
// us. Falls back to the packaged version seen at build time.
std::string janus_version() {
  if (void* symbol = dlsym(RTLD_DEFAULT, "janus_version_string")) {
    const char* text = *static_cast<const char* const*>(symbol);
    if (text != nullptr && *text != '\0') return text;
  }
  return JMEDIA_JANUS_PACKAGE_VERSION;
}

// Everything init() creates; destroyed in reverse order by destroy() (or by a failed init()).
struct Running {
  TransportConfig config;
  RuntimeHost host;
  TransportMetrics metrics;
  std::shared_ptr<ProcessCollector> process;
  HttpServer server;

  explicit Running(TransportConfig settings)
      : config(std::move(settings)),
        metrics(runtime::registry(), BuildInfo{janus_version(), kVersionString}),
        process(std::make_shared<ProcessCollector>()),
        server(host, metrics,
               HttpServerOptions{.ip = config.ip, .port = config.port, .auth = config.auth}) {
    runtime::add_collectable(process);
  }
  ~Running() {
    server.stop();  // joins the server thread: no scrape runs past this line
    runtime::remove_collectable(process.get());
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
};

std::unique_ptr<Running> running;
// Read by query_transport, written only by init/destroy.
std::atomic<Running*> active{nullptr};

int init(janus_transport_callbacks* core, const char* config_path) noexcept {
  return guarded("init", -1, [&] {
    use_janus_log(kPackage);
    if (core == nullptr || config_path == nullptr) return -1;
    ConfigValues values = read_janus_config(config_path, kPackage).value_or(ConfigValues{});
    TransportConfig config = load_transport_config(values);
    if (!config.enabled) {
      log_info("disabled (general.enabled = false): not started");
      return -1;
    }
    if (!config.fatal.empty()) {
      log_error("not started: fix the configuration errors above");
      return -1;
    }
    auto state = std::make_unique<Running>(std::move(config));
    std::string error;
    if (!state->server.start(error)) {
      // Janus skips this transport (and dlclose()s it) and keeps running; state's destructor
      // removes everything we registered in the shared runtime first.
      log_error("%s; %s is not started, Janus continues without it", error.c_str(), kPackage);
      return -1;
    }
    log_info("%s %s serving /metrics, /healthz, /readyz on http://%s:%u (auth: %s)", kName,
             kVersionString, state->config.ip.c_str(), static_cast<unsigned>(state->server.port()),
             describe(state->config.auth).c_str());
    running = std::move(state);
    active.store(running.get(), std::memory_order_release);
    return 0;
  });
}

void destroy() noexcept {
  guarded_void("destroy", [] {
    active.store(nullptr, std::memory_order_release);
    running.reset();
    log_info("%s destroyed", kName);
  });
}

int get_api_compatibility() noexcept {
  return JANUS_TRANSPORT_API_VERSION;
}
int get_version() noexcept {
  return kVersion;
}
const char* get_version_string() noexcept {
  return kVersionString;
}
const char* get_description() noexcept {
  return kDescription;
}
const char* get_name() noexcept {
  return kName;
}
const char* get_author() noexcept {
  return kAuthor;
}
const char* get_package() noexcept {
  return kPackage;
}

gboolean is_janus_api_enabled() noexcept {
  return FALSE;
}
gboolean is_admin_api_enabled() noexcept {
  return FALSE;
}

int send_message(janus_transport_session*, void*, gboolean, json_t* message) noexcept {
  // We never inject requests yet, so nothing is addressed to us; we own message regardless.
  json_decref(message);
  return 0;
}

void session_created(janus_transport_session*, guint64) noexcept {}
void session_over(janus_transport_session*, guint64, gboolean, gboolean) noexcept {}
void session_claimed(janus_transport_session*, guint64) noexcept {}

// Admin API "query_transport": where we listen. request is borrowed; the reply is the core's.
json_t* query_transport(json_t* /*request*/) noexcept {
  return guarded("query_transport", static_cast<json_t*>(nullptr), []() -> json_t* {
    JsonPtr reply = adopt(json_object());
    Running* state = active.load(std::memory_order_acquire);
    set(reply.get(), "running", state != nullptr);
    if (state != nullptr) {
      set(reply.get(), "ip", state->config.ip);
      set(reply.get(), "port", static_cast<int>(state->server.port()));
      set(reply.get(), "auth", describe(state->config.auth));
    }
    return reply.release();
  });
}

janus_transport prometheus_transport = {
    .init = init,
    .destroy = destroy,
    .get_api_compatibility = get_api_compatibility,
    .get_version = get_version,
    .get_version_string = get_version_string,
    .get_description = get_description,
    .get_name = get_name,
    .get_author = get_author,
    .get_package = get_package,
    .is_janus_api_enabled = is_janus_api_enabled,
    .is_admin_api_enabled = is_admin_api_enabled,
    .send_message = send_message,
    .session_created = session_created,
    .session_over = session_over,
    .session_claimed = session_claimed,
    .query_transport = query_transport,
};

}  // namespace
}  // namespace jmedia::transport

extern "C" __attribute__((visibility("default"))) janus_transport* create(void) {
  return &jmedia::transport::prometheus_transport;
}
