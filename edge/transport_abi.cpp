// The one place where janus.transport.edge meets Janus's C transport ABI (version 8): the
// static janus_transport struct, noexcept trampolines behind the exception barrier, and the
// exported create(). It carries the Janus API (WebSocket and HTTP) for untrusted clients,
// bounding each of them before the core sees anything (edge.h, ws_server.h, http_api.h).
//
// send_message, session_created/over/claimed reach the Endpoint our transport session stands
// for (transport_p), only while the module's state is alive (ModuleSlot): the core may call
// them on any thread, and after destroy().
#include <string>

#include "../common/abi_guard.h"
#include "../common/module_identity.h"
#include "../common/janus_api.h"
#include "../common/janus_config_reader.h"
#include "../common/janus_log_sink.h"
#include "../common/json.h"
#include "../common/module_slot.h"
#include "../events/evh_config.h"
#include "candidate_ledger.h"
#include "edge.h"
#include "edge_config.h"
#include "edge_metrics.h"
#include "http_api.h"
#include "janus_link.h"
#include "pc_watch.h"
#include "runtime.h"
#include "version.h"
#include "ws_server.h"

namespace jmedia::edge {
namespace {

constexpr ModuleIdentity kIdentity{
    .api_version = JANUS_TRANSPORT_API_VERSION,
    .package = "janus.transport.edge",
    .name = "JANUS edge transport (bounded Janus API)",
    .description =
        "The Janus API over WebSocket and HTTP for untrusted clients: per-client bounds on queues, "
        "message size, request rate, connections and ICE candidates before the core sees a "
        "request.",
};
constexpr const char* kPackage = kIdentity.package;
constexpr const char* kName = kIdentity.name;
using Identity = IdentityGetters<kIdentity>;
constexpr const char* kEventHandlerConfig = "janus.eventhandler.media";

janus_transport* self();

// The ICE-candidate cap has one setting, janus.eventhandler.media's max_ice_candidates and
// cap_scope: as that handler published them in the runtime's ledger (it loads before
// transports), or, when it does not count (not loaded, events.broadcast = false, ...), as its
// configuration file says.
CandidatePolicy candidate_policy(const char* config_path, std::string& source) {
  runtime::CandidateLedger& ledger = runtime::candidate_ledger();
  if (ledger.fed()) {
    const runtime::LedgerConfig config = ledger.config();
    source = "janus.eventhandler.media";
    return {config.max_ice_candidates, config.scope};
  }
  CandidatePolicy policy;
  const runtime::LedgerConfig defaults;
  policy.max_ice_candidates = defaults.max_ice_candidates;
  policy.scope = defaults.scope;
  const std::string file = std::string(config_path) + "/" + kEventHandlerConfig + ".jcfg";
  source = file;
  std::optional<ConfigValues> values = parse_janus_config_file(file);
  if (!values) {
    source += " (missing: defaults)";
    return policy;
  }
  policy.max_ice_candidates = static_cast<std::uint32_t>(values->integer(
      "general.max_ice_candidates", policy.max_ice_candidates, 0, events::kMaxIceCandidatesLimit));
  if (const std::string* scope = values->find("general.cap_scope")) {
    if (auto parsed = events::parse_cap_scope(*scope)) policy.scope = *parsed;
  }
  return policy;
}

// Everything init() creates; destroyed in reverse order by destroy() once no callback is inside
// (ModuleSlot), or by a failed init().
struct Running {
  EdgeConfig config;
  JanusCoreLink core;
  std::shared_ptr<EdgeMetrics> metrics;
  LedgerCutSink cuts;
  Edge edge;
  WsServer ws;
  HttpApi http;

  Running(EdgeConfig settings, janus_transport_callbacks* callbacks, CandidatePolicy policy)
      : config(std::move(settings)),
        core(self(), callbacks),
        metrics(std::make_shared<EdgeMetrics>()),
        edge(config, core, *metrics, policy, &cuts, &runtime::pc_watch()),
        ws(edge),
        http(edge) {
    runtime::add_collectable(metrics);
  }
  ~Running() {
    edge.holds().stop();  // its forwards reach the connections and the core
    http.stop();
    ws.stop();
    runtime::remove_collectable(metrics.get());
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
};

// How long destroy() waits for callbacks still running (send_message from core threads).
constexpr auto kDestroyWait = std::chrono::seconds(5);

constinit ModuleSlot<Running> running;

int init(janus_transport_callbacks* core, const char* config_path) noexcept {
  return guarded("init", -1, [&] {
    use_janus_log(kPackage);
    if (core == nullptr || config_path == nullptr) return -1;
    ConfigValues values = read_janus_config(config_path, kPackage).value_or(ConfigValues{});
    EdgeConfig config = load_edge_config(values);
    if (!config.enabled) {
      log_info("disabled (general.enabled = false): not started");
      return -1;
    }
    if (!config.fatal.empty()) {
      log_error("not started: fix the configuration errors above");
      return -1;
    }
    std::string cap_source;
    const CandidatePolicy policy = candidate_policy(config_path, cap_source);
    auto state = std::make_unique<Running>(std::move(config), core, policy);
    std::string error;
    if (state->config.ws.enabled && !state->ws.start(error)) {
      log_error("%s; %s is not started", error.c_str(), kPackage);
      return -1;
    }
    if (state->config.http.enabled && !state->http.start(error)) {
      log_error("%s; %s is not started", error.c_str(), kPackage);
      return -1;
    }
    log_info("%s %s: Janus API on %s%s%s", kName, kVersionString,
             state->config.ws.enabled
                 ? ("ws://" + transport::endpoint(state->config.ws.ip, state->ws.port())).c_str()
                 : "",
             state->config.ws.enabled && state->config.http.enabled ? " and " : "",
             state->config.http.enabled
                 ? ("http://" + transport::endpoint(state->config.http.ip, state->http.port()) +
                    state->config.http_base_path)
                       .c_str()
                 : "");
    if (state->config.ws.enabled) {
      log_info("websocket: libwebsockets on %s", state->ws.event_loop());
    }
    log_info("ICE-candidate cap: %s (from %s)%s",
             policy.max_ice_candidates == 0
                 ? "off (max_ice_candidates = 0)"
                 : ("at most " + std::to_string(policy.max_ice_candidates) +
                    " candidates per handle and PeerConnection, " +
                    (policy.scope == runtime::CapScope::kMedia ? "janus.plugin.media's handles"
                                                               : "every plugin's handles"))
                       .c_str(),
             cap_source.c_str(),
             runtime::candidate_ledger().enforced()
                 ? "; refused handles are cut by janus.transport.prometheus"
                 : "");
    log_info("hangups and detaches of negotiating handles: %s",
             state->config.hold_timeout_ms == 0
                 ? "not held (hold_timeout_ms = 0)"
                 : ("held until the first selected pair, at most " +
                    std::to_string(state->config.hold_timeout_ms) + " ms (" +
                    (runtime::pc_watch().fed()
                         ? std::string("reported by janus.eventhandler.media")
                         : std::string("janus.eventhandler.media does not report it: a detach "
                                       "waits for its hangup event")) +
                    ")")
                       .c_str());
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
  return running.enter() ? TRUE : FALSE;
}
gboolean is_admin_api_enabled() noexcept {
  return FALSE;
}

Endpoint* endpoint_of(janus_transport_session* session) {
  if (session == nullptr || session->transport_p == nullptr) return nullptr;
  return static_cast<EndpointRef*>(session->transport_p)->endpoint.get();
}

int send_message(janus_transport_session* session, void* request_id, gboolean admin,
                 json_t* message) noexcept {
  return guarded("send_message", -1, [&] {
    JsonPtr owned(message);  // ours in every case
    auto state = running.enter();
    Endpoint* endpoint = state && !admin ? endpoint_of(session) : nullptr;
    if (endpoint == nullptr || owned == nullptr) return -1;
    endpoint->deliver(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(request_id)),
                      std::move(owned));
    return 0;
  });
}

void session_created(janus_transport_session* session, guint64 session_id) noexcept {
  guarded_void("session_created", [&] {
    auto state = running.enter();
    if (Endpoint* endpoint = state ? endpoint_of(session) : nullptr) {
      endpoint->session_created(session, session_id);
    }
  });
}

void session_over(janus_transport_session* session, guint64 session_id, gboolean /*timeout*/,
                  gboolean /*claimed*/) noexcept {
  guarded_void("session_over", [&] {
    auto state = running.enter();
    if (Endpoint* endpoint = state ? endpoint_of(session) : nullptr) {
      endpoint->session_over(session_id);
    }
  });
}

void session_claimed(janus_transport_session* session, guint64 session_id) noexcept {
  guarded_void("session_claimed", [&] {
    auto state = running.enter();
    if (Endpoint* endpoint = state ? endpoint_of(session) : nullptr) {
      endpoint->session_created(session, session_id);
    }
  });
}

// Admin API "query_transport": where we listen, what is open, the bounds in force.
json_t* query_transport(json_t* /*request*/) noexcept {
  return guarded("query_transport", static_cast<json_t*>(nullptr), []() -> json_t* {
    auto state = running.enter();
    JsonPtr reply = adopt(json_object());
    set(reply.get(), "running", static_cast<bool>(state));
    if (!state) return reply.release();
    const EdgeConfig& config = state->config;
    if (config.ws.enabled) {
      set(reply.get(), "ws", "ws://" + transport::endpoint(config.ws.ip, state->ws.port()));
      set(reply.get(), "ws_connections", static_cast<std::uint64_t>(state->ws.connections()));
    }
    if (config.http.enabled) {
      set(reply.get(), "http",
          "http://" + transport::endpoint(config.http.ip, state->http.port()) +
              config.http_base_path);
      set(reply.get(), "http_sessions", static_cast<std::uint64_t>(state->http.sessions()));
    }
    JsonPtr limits = adopt(json_object());
    set(limits.get(), "max_queued_messages", std::uint64_t{config.max_queued_messages});
    set(limits.get(), "max_queued_bytes", config.max_queued_bytes);
    set(limits.get(), "send_timeout_ms", std::uint64_t{config.send_timeout_ms});
    set(limits.get(), "max_message_bytes", config.max_message_bytes);
    set(limits.get(), "max_requests_per_s", std::uint64_t{config.max_requests_per_s});
    set(limits.get(), "request_burst", std::uint64_t{config.request_burst});
    set(limits.get(), "abuse_window_s", std::uint64_t{config.abuse_window_s});
    set(limits.get(), "max_connections", std::uint64_t{config.max_connections});
    set(limits.get(), "max_connections_per_ip", std::uint64_t{config.max_connections_per_ip});
    set(limits.get(), "handshake_timeout_s", std::uint64_t{config.handshake_timeout_s});
    set(limits.get(), "max_pending_handshakes", std::uint64_t{config.max_pending_handshakes});
    set(limits.get(), "ping_interval_s", std::uint64_t{config.ping_interval_s});
    set(limits.get(), "pong_timeout_s", std::uint64_t{config.pong_timeout_s});
    set(limits.get(), "max_ice_candidates",
        std::uint64_t{state->edge.candidates().policy().max_ice_candidates});
    set(reply.get(), "limits", std::move(limits));
    set(reply.get(), "candidate_handles",
        static_cast<std::uint64_t>(state->edge.candidates().tracked()));
    return reply.release();
  });
}

janus_transport edge_transport = {
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
  return &edge_transport;
}

}  // namespace
}  // namespace jmedia::edge

extern "C" __attribute__((visibility("default"))) janus_transport* create(void) {
  return &jmedia::edge::edge_transport;
}
