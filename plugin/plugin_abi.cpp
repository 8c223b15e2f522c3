// The one place where janus.plugin.media meets Janus's C plugin ABI: the static janus_plugin
// struct, noexcept trampolines that run every callback behind the exception barrier, and the
// exported create(). Everything else lives in MediaPlugin. It also publishes the plugin's view
// for the other modules (runtime/media_view.h), which calls into the plugin the same way.
#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <string_view>

#include "../common/abi_guard.h"
#include "../common/module_identity.h"
#include "../common/janus_api.h"
#include "../common/janus_config_reader.h"
#include "../common/glib_ptr.h"
#include "../common/janus_log_sink.h"
#include "../common/module_slot.h"
#include "janus_host.h"
#include "../runtime/media_view.h"
#include "../runtime/runtime.h"
#include "errors.h"
#include "media_plugin.h"
#include "shutdown_guard.h"
#include "plugin_config.h"
#include "version.h"

namespace jmedia {
namespace {

constexpr ModuleIdentity kIdentity{
    .api_version = JANUS_PLUGIN_API_VERSION,
    .package = "janus.plugin.media",
    .name = "JANUS media plugin",
    .description =
        "Device media sessions (publish, watch, echo) with a sharded session table and limits.",
};
constexpr const char* kPackage = kIdentity.package;
constexpr const char* kName = kIdentity.name;
using Identity = IdentityGetters<kIdentity>;

// Everything init() creates. Freed by destroy() once no callback is inside (ModuleSlot); the
// destructor stops the plugin first: its threads are joined, every session released.
struct ModuleState {
  JanusHost host;
  JanusSdpEngine sdp;
  MediaPlugin plugin;
  ShutdownGuard guard;
  ModuleState(janus_callbacks* core, janus_plugin* self, const PluginConfig& config)
      : host(core, self), plugin(host, sdp, config) {}
  ~ModuleState() {
    guard.uninstall();
    runtime::remove_collectable(plugin.metrics().get());
    plugin.shutdown();
  }
  ModuleState(const ModuleState&) = delete;
  ModuleState& operator=(const ModuleState&) = delete;
};

// How long destroy() waits for callbacks still running (Janus's task pool and handle loops
// may be): a callback takes microseconds, so this is reached only by one that hangs.
constexpr auto kDestroyWait = std::chrono::seconds(5);

constinit ModuleSlot<ModuleState> module;

janus_plugin* self();

// The view's error codes are the plugin's.
static_assert(static_cast<int>(ErrorCode::kInvalidBody) == runtime::media_errors::kInvalidBody);
static_assert(static_cast<int>(ErrorCode::kInvalidField) == runtime::media_errors::kInvalidField);
static_assert(static_cast<int>(ErrorCode::kShuttingDown) == runtime::media_errors::kShuttingDown);
static_assert(static_cast<int>(ErrorCode::kNoSuchDevice) == runtime::media_errors::kNoSuchDevice);
static_assert(static_cast<int>(ErrorCode::kSessionNotFound) ==
              runtime::media_errors::kSessionNotFound);
static_assert(static_cast<int>(ErrorCode::kInternal) == runtime::media_errors::kInternal);
static_assert(static_cast<int>(ErrorCode::kClusterUnavailable) ==
              runtime::media_errors::kClusterUnavailable);

// What the other modules reach of the plugin (the transport's REST API): the admin API's list,
// info, devices, kick and drain, each answered by handle_admin_message on the caller's thread.
// A call is a callback like Janus's: behind the module gate, so destroy() never frees the
// plugin under it; the runtime's lease, withdrawn first in destroy(), keeps callers out of this
// code once the plugin is going.
class PublishedView final : public runtime::MediaView {
 public:
  JsonPtr read(const json_t* request) override {
    return answer(request, {"list", "info", "devices"});
  }
  JsonPtr command(const json_t* request) override { return answer(request, {"kick", "drain"}); }
  bool token_access() override {
    return guarded("media view", false, [] {
      auto m = module.enter();
      return m && m->plugin.token_mode();
    });
  }

 private:
  static JsonPtr answer(const json_t* request, std::initializer_list<std::string_view> names) {
    return guarded("media view", JsonPtr(), [&]() -> JsonPtr {
      auto m = module.enter();
      if (!m) return nullptr;
      const auto name = string_member(request, "request");
      if (!name || std::ranges::find(names, *name) == names.end()) {
        return error_event(Error{ErrorCode::kUnknownRequest, "not a request of this view"});
      }
      return m->plugin.handle_admin_message(request);
    });
  }
};

constinit PublishedView published_view;

int init(janus_callbacks* core, const char* config_path) noexcept {
  return guarded("init", -1, [&] {
    use_janus_log(kPackage);
    if (core == nullptr || config_path == nullptr) return -1;
    ConfigValues values = read_janus_config(config_path, kPackage).value_or(ConfigValues{});
    PluginConfig config = load_plugin_config(values);
    if (!config.access_error.empty()) {
      // Token mode that cannot verify tokens: never open instead.
      log_error(
          "init: %s not started: access: %s (access.mode = \"token\" never falls back to "
          "open)",
          kName, config.access_error.c_str());
      return -1;
    }
    if (!config.cluster_error.empty()) {
      // cluster.redis set, but this node cannot take part safely: running alone would accept
      // publishes the cluster holds on other nodes (README, "Scale-out").
      log_error("init: %s not started: cluster: %s (a node with cluster.redis never runs alone)",
                kName, config.cluster_error.c_str());
      return -1;
    }
    auto state = std::make_unique<ModuleState>(core, self(), config);
    runtime::add_collectable(state->plugin.metrics());
    ShutdownGuard& guard = state->guard;
    if (!module.install(std::move(state))) {
      log_error("init: %s is initialized already", kName);
      return -1;
    }
    const auto timeout = std::chrono::seconds(config.shutdown_timeout_s);
    guard.install([timeout](int /*signal*/) {
      // Inside the gate for the whole graceful stop: destroy() uninstalls the guard (joins
      // this thread) before it retires the state.
      if (auto m = module.enter()) m->plugin.graceful_stop(timeout);
    });
    if (!runtime::publish_media_view(&published_view)) {
      log_warn("init: another media view is published in this process: the REST API keeps it");
    }
    log_info("%s %s initialized", kName, kVersionString);
    return 0;
  });
}

void destroy() noexcept {
  guarded_void("destroy", [] {
    // REST API callers first: none may enter from here on, and those inside leave (bounded;
    // the module gate below still waits for any left inside).
    if (!runtime::withdraw_media_view(&published_view, kDestroyWait)) {
      log_error("destroy: calls of the media view still running after %lld ms",
                static_cast<long long>(std::chrono::milliseconds(kDestroyWait).count()));
    }
    // The graceful stop (a signal) runs inside the gate: let it finish and stop the guard
    // while the plugin is still published, then retire it.
    if (auto m = module.enter()) m->guard.uninstall();
    if (module.retire(kDestroyWait)) log_info("%s destroyed", kName);
  });
}

void create_session(janus_plugin_session* handle, int* error) noexcept {
  guarded_void("create_session", [&] {
    *error = -1;
    if (auto m = module.enter(); m && handle != nullptr) m->plugin.create_session(handle, error);
  });
}

janus_plugin_result* handle_message(janus_plugin_session* handle, char* transaction,
                                    json_t* message, json_t* jsep) noexcept {
  // We own transaction, message and jsep from here on, whatever happens.
  GCharPtr owned_transaction(transaction);
  JsonPtr owned_message(message);
  JsonPtr owned_jsep(jsep);
  return guarded("handle_message", static_cast<janus_plugin_result*>(nullptr), [&] {
    auto m = module.enter();
    if (!m) {
      return janus_plugin_result_new(JANUS_PLUGIN_ERROR, "janus.plugin.media is not running",
                                     nullptr);
    }
    Reply reply = m->plugin.handle_message(handle, transaction, std::move(owned_message),
                                           std::move(owned_jsep));
    if (reply.kind == Reply::Kind::kAsync) {
      return janus_plugin_result_new(JANUS_PLUGIN_OK_WAIT, nullptr, nullptr);
    }
    // janus_plugin_result_new takes over our reference to the body.
    return janus_plugin_result_new(JANUS_PLUGIN_OK, nullptr, reply.body.release());
  });
}

json_t* handle_admin_message(json_t* message) noexcept {
  return guarded("handle_admin_message", static_cast<json_t*>(nullptr), [&]() -> json_t* {
    auto m = module.enter();
    if (!m) return nullptr;
    return m->plugin.handle_admin_message(message).release();
  });
}

void setup_media(janus_plugin_session* handle) noexcept {
  guarded_void("setup_media", [&] {
    if (auto m = module.enter()) m->plugin.setup_media(handle);
  });
}

void incoming_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) noexcept {
  guarded_void("incoming_rtp", [&] {
    if (auto m = module.enter()) m->plugin.incoming_rtp(handle, packet);
  });
}

void incoming_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) noexcept {
  guarded_void("incoming_rtcp", [&] {
    if (auto m = module.enter()) m->plugin.incoming_rtcp(handle, packet);
  });
}

void incoming_data(janus_plugin_session* handle, janus_plugin_data* packet) noexcept {
  guarded_void("incoming_data", [&] {
    if (auto m = module.enter()) m->plugin.incoming_data(handle, packet);
  });
}

void data_ready(janus_plugin_session* /*handle*/) noexcept {}

void slow_link(janus_plugin_session* handle, int mindex, gboolean video, gboolean uplink) noexcept {
  guarded_void("slow_link", [&] {
    if (auto m = module.enter()) m->plugin.slow_link(handle, mindex, video, uplink);
  });
}

void hangup_media(janus_plugin_session* handle) noexcept {
  guarded_void("hangup_media", [&] {
    if (auto m = module.enter()) m->plugin.hangup_media(handle);
  });
}

void destroy_session(janus_plugin_session* handle, int* error) noexcept {
  guarded_void("destroy_session", [&] {
    *error = -1;
    if (auto m = module.enter(); m && handle != nullptr) m->plugin.destroy_session(handle, error);
  });
}

json_t* query_session(janus_plugin_session* handle) noexcept {
  return guarded("query_session", static_cast<json_t*>(nullptr), [&]() -> json_t* {
    auto m = module.enter();
    if (!m || handle == nullptr) return nullptr;
    return m->plugin.query_session(handle).release();
  });
}

janus_plugin media_plugin = {
    .init = init,
    .destroy = destroy,
    .get_api_compatibility = Identity::api_compatibility,
    .get_version = Identity::version,
    .get_version_string = Identity::version_string,
    .get_description = Identity::description,
    .get_name = Identity::name,
    .get_author = Identity::author,
    .get_package = Identity::package,
    .create_session = create_session,
    .handle_message = handle_message,
    .handle_admin_message = handle_admin_message,
    .setup_media = setup_media,
    .incoming_rtp = incoming_rtp,
    .incoming_rtcp = incoming_rtcp,
    .incoming_data = incoming_data,
    .data_ready = data_ready,
    .slow_link = slow_link,
    .hangup_media = hangup_media,
    .destroy_session = destroy_session,
    .query_session = query_session,
};

janus_plugin* self() {
  return &media_plugin;
}

}  // namespace
}  // namespace jmedia

extern "C" __attribute__((visibility("default"))) janus_plugin* create(void) {
  return &jmedia::media_plugin;
}
