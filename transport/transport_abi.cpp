// The one place where janus.transport.prometheus meets Janus's C transport ABI (version 8):
// the static janus_transport struct, noexcept trampolines behind the exception barrier, and
// the exported create(). The transport serves operators only (metrics, health, readiness, the
// session REST API of media_api.h): it enables neither the Janus API nor the Admin API for
// clients.
//
// It also enforces the ICE-candidate cap that janus.eventhandler.media counts
// (candidate_enforcer.h): its thread injects admin requests with incoming_request(admin =
// TRUE) and the core answers through send_message(admin = TRUE), which hands the answer to a
// process-wide ReplyBox without blocking. The core may still answer after destroy() (it closes
// transports before its requests thread), hence a ReplyBox that is never destroyed.
#include <dlfcn.h>

#include <chrono>
#include <memory>
#include <string>

#include "../common/abi_guard.h"
#include "../common/module_identity.h"
#include "../common/janus_api.h"
#include "../common/janus_config_reader.h"
#include "../common/janus_log_sink.h"
#include "../common/json.h"
#include "../common/module_slot.h"
#include "api_metrics.h"
#include "candidate_enforcer.h"
#include "candidate_ledger.h"
#include "http_server.h"
#include "janus_admin.h"
#include "media_api.h"
#include "media_view.h"
#include "process_metrics.h"
#include "reply_box.h"
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

constexpr ModuleIdentity kIdentity{
    .api_version = JANUS_TRANSPORT_API_VERSION,
    .package = "janus.transport.prometheus",
    .name = "JANUS Prometheus metrics transport",
    .description =
        "Operators' HTTP endpoint: /metrics (Prometheus text format), /healthz, /readyz, and the "
        "session REST API /api/media/.",
};
constexpr const char* kPackage = kIdentity.package;
constexpr const char* kName = kIdentity.name;
using Identity = IdentityGetters<kIdentity>;

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

// Answers to our injected admin requests, for the life of the process (see the top).
ReplyBox& reply_box() {
  static auto* const box = new ReplyBox();
  return *box;
}

janus_transport* self();

// Everything init() creates; destroyed in reverse order by destroy() once no callback is inside
// (ModuleSlot), or by a failed init().
struct Running {
  TransportConfig config;
  RuntimeHost host;
  TransportMetrics metrics;
  std::shared_ptr<ProcessCollector> process;
  // The session REST API (none with api = false), served by the server's threads.
  std::shared_ptr<ApiMetrics> api_metrics;
  std::unique_ptr<MediaApi> api;
  HttpServer server;
  // The ICE-candidate cap, when enforced: declared last, so stopped first.
  std::unique_ptr<JanusAdminGateway> gateway;
  std::unique_ptr<CandidateEnforcer> enforcer;

  explicit Running(TransportConfig settings)
      : config(std::move(settings)),
        metrics(runtime::registry(), BuildInfo{janus_version(), kVersionString}),
        process(std::make_shared<ProcessCollector>()),
        api_metrics(config.api ? std::make_shared<ApiMetrics>() : nullptr),
        api(config.api ? std::make_unique<MediaApi>(
                             MediaApiOptions{.metrics_auth = config.auth,
                                             .api_token = config.api_token,
                                             .api_admin_token = config.api_admin_token},
                             *api_metrics)
                       : nullptr),
        server(host, metrics,
               HttpServerOptions{.ip = config.ip,
                                 .port = config.port,
                                 .auth = config.auth,
                                 .connection_limit = config.connection_limit,
                                 .threads = listener_threads(config)},
               api.get()) {
    runtime::add_collectable(process);
    if (api_metrics) runtime::add_collectable(api_metrics);
  }
  ~Running() {
    if (enforcer) enforcer->stop();  // joins its thread: no request is injected past this line
    enforcer.reset();
    gateway.reset();  // releases our transport session (requests in flight keep theirs)
    server.stop();    // joins the server threads: no scrape or API call runs past this line
    if (api_metrics) runtime::remove_collectable(api_metrics.get());
    runtime::remove_collectable(process.get());
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
};

// How long destroy() waits for a query_transport still running on the core's requests thread.
constexpr auto kDestroyWait = std::chrono::seconds(5);

constinit ModuleSlot<Running> running;

// Starts the enforcer of the ICE-candidate cap when there is something to enforce; logs why
// not otherwise. Janus loads event handlers before transports, so whether
// janus.eventhandler.media feeds the ledger is known here.
void start_candidate_cap(Running& state, janus_transport_callbacks* core, const char* config_path) {
  if (!state.config.candidate_cap) {
    log_info("ICE-candidate cap: not enforced (candidate_cap = false)");
    return;
  }
  runtime::CandidateLedger& ledger = runtime::candidate_ledger();
  if (!ledger.fed()) {
    log_info(
        "ICE-candidate cap: nothing to enforce, janus.eventhandler.media does not count "
        "candidates (not loaded, events.broadcast = false in janus.jcfg, disabled, or "
        "max_ice_candidates = 0)");
    return;
  }
  const AdminSecret secret = read_admin_secret(config_path);
  if (!secret.found) {
    log_warn(
        "ICE-candidate cap: %s is missing or unreadable (janus started with -C?), so its "
        "admin_secret is unknown: admin requests go without one. If janus requires one, the cap "
        "cannot be enforced and candidates are only counted (the start-up probe below says)",
        secret.file.c_str());
  } else if (!secret.secret) {
    log_info("ICE-candidate cap: %s sets no admin_secret; admin requests go without one",
             secret.file.c_str());
  }
  state.gateway = std::make_unique<JanusAdminGateway>(self(), core);
  if (!state.gateway->ready()) {
    log_error("ICE-candidate cap: cannot create a transport session: not enforced");
    state.gateway.reset();
    return;
  }
  const runtime::LedgerConfig cap = ledger.config();
  EnforcerOptions options;
  options.admin_secret = secret.secret;
  options.check_interval = std::chrono::milliseconds(state.config.pending_trickles_check_ms);
  options.checks_per_round = state.config.pending_trickles_checks_per_round;
  options.sweep_growth_bytes = std::uint64_t{state.config.pending_trickles_sweep_mb} << 20;
  state.enforcer = std::make_unique<CandidateEnforcer>(ledger, *state.gateway, reply_box(),
                                                       runtime::registry(), std::move(options));
  std::string error;
  if (!state.enforcer->start(error)) {
    log_error("ICE-candidate cap: %s: not enforced", error.c_str());
    state.enforcer.reset();
    state.gateway.reset();
    return;
  }
  log_info(
      "ICE-candidate cap: handles of %s over max_ice_candidates = %u are hung up and detached "
      "through admin requests; pending-trickles check %s%s",
      cap.scope == runtime::CapScope::kMedia ? "janus.plugin.media" : "every plugin",
      cap.max_ice_candidates,
      state.config.pending_trickles_check_ms == 0
          ? "off"
          : ("every " + std::to_string(state.config.pending_trickles_check_ms) + " ms, up to " +
             std::to_string(state.config.pending_trickles_checks_per_round) + " handles each")
                .c_str(),
      state.config.pending_trickles_check_ms == 0 || state.config.pending_trickles_sweep_mb == 0
          ? ""
          : (", and of every such handle when janus grows by " +
             std::to_string(state.config.pending_trickles_sweep_mb) + " MB")
                .c_str());
}

// What the start-up log says of the session REST API: who may use it, and whether the media
// plugin (loaded before transports) published its view.
void log_api(const Running& state) {
  if (!state.api) {
    log_info("session REST API: off (api = false): /api/media/* answers 404");
    return;
  }
  const bool view = static_cast<bool>(runtime::media_view());
  log_info("session REST API on /api/media/: %s; %s", state.api->describe_access().c_str(),
           view ? "reading janus.plugin.media's table"
                : "janus.plugin.media is not loaded: it answers 503");
}

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
    log_info("%s %s serving /metrics, /healthz, /readyz on http://%s:%u (auth: %s; %u threads)",
             kName, kVersionString, state->config.ip.c_str(),
             static_cast<unsigned>(state->server.port()), describe(state->config.auth).c_str(),
             state->server.options().threads);
    log_api(*state);
    start_candidate_cap(*state, core, config_path);
    if (!running.install(std::move(state))) {
      log_error("init: %s is initialized already", kName);
      return -1;
    }
    return 0;
  });
}

void destroy() noexcept {
  guarded_void("destroy", [] {
    if (running.retire(kDestroyWait)) log_info("%s destroyed", kName);
  });
}

gboolean is_janus_api_enabled() noexcept {
  return FALSE;
}
gboolean is_admin_api_enabled() noexcept {
  return FALSE;
}

int send_message(janus_transport_session* /*transport*/, void* request_id, gboolean admin,
                 json_t* message) noexcept {
  // We own message. Only the answers to our injected admin requests are addressed to us (no
  // client session is ever created over this transport); the box frees what nobody awaits.
  if (admin && request_id != nullptr) {
    reply_box().deliver(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(request_id)),
                        message);
  } else {
    json_decref(message);
  }
  return 0;
}

void session_created(janus_transport_session* /*transport*/, guint64 /*session_id*/) noexcept {}
void session_over(janus_transport_session* /*transport*/, guint64 /*session_id*/,
                  gboolean /*timeout*/, gboolean /*claimed*/) noexcept {}
void session_claimed(janus_transport_session* /*transport*/, guint64 /*session_id*/) noexcept {}

// Admin API "query_transport": where we listen. request is borrowed; the reply is the core's.
json_t* query_transport(json_t* /*request*/) noexcept {
  return guarded("query_transport", static_cast<json_t*>(nullptr), []() -> json_t* {
    auto state = running.enter();
    JsonPtr reply = adopt(json_object());
    set(reply.get(), "running", static_cast<bool>(state));
    if (state) {
      set(reply.get(), "ip", state->config.ip);
      set(reply.get(), "port", static_cast<int>(state->server.port()));
      set(reply.get(), "auth", describe(state->config.auth));
      if (state->enforcer) {
        set(reply.get(), "candidate_cap", state->enforcer->describe());
      } else {
        JsonPtr off = adopt(json_object());
        set(off.get(), "enforcing", false);
        set(reply.get(), "candidate_cap", std::move(off));
      }
    }
    return reply.release();
  });
}

janus_transport prometheus_transport = {
    .init = init,
    .destroy = destroy,
    .get_api_compatibility = Identity::api_compatibility,
    .get_version = Identity::version,
    .get_version_string = Identity::version_string,
    .get_description = Identity::description,
    .get_name = Identity::name,
    .get_author = Identity::author,
    .get_package = Identity::package,
    .is_janus_api_enabled = is_janus_api_enabled,
    .is_admin_api_enabled = is_admin_api_enabled,
    .send_message = send_message,
    .session_created = session_created,
    .session_over = session_over,
    .session_claimed = session_claimed,
    .query_transport = query_transport,
};

janus_transport* self() {
  return &prometheus_transport;
}

}  // namespace
}  // namespace jmedia::transport

extern "C" __attribute__((visibility("default"))) janus_transport* create(void) {
  return &jmedia::transport::prometheus_transport;
}
