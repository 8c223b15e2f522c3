// The one place where janus.eventhandler.media meets Janus's C event handler ABI (API version
// 3): the static janus_eventhandler struct, noexcept trampolines behind the exception barrier,
// and the exported create(). Everything else lives in EventAggregator.
//
// Ownership of the event in incoming_event(), as janus_events_thread() in v1.1.2 events.c does
// it: the core takes an extra reference before calling the handlers and drops it, plus its own,
// after they return (with several handlers each gets a deep copy that the core releases).
// The event is therefore only borrowed here: we process it inline and never json_decref it.
// (eventhandler.h still says the handler must decref it: that note predates the change; doing
// so would free the core's event.) A handler that queued the event would take its own
// reference first, as sampleevh does; we do not queue: a handful of JSON lookups and atomic
// adds per event are cheaper than a hand-off to another thread.
//
// Threads: incoming_event on the core's events thread; handle_request on a request thread;
// init/destroy on the main thread. The core joins its events thread and its requests thread
// before it calls destroy(), so no callback should run concurrently with destroy(); the state
// is held as the other modules hold theirs (ModuleSlot) all the same, so one that does is
// waited for rather than freed under.
#include <chrono>
#include <memory>

#include "../common/abi_guard.h"
#include "../common/module_identity.h"
#include "../common/janus_api.h"
#include "../common/janus_config_reader.h"
#include "../common/janus_log_sink.h"
#include "../common/module_slot.h"
#include "event_aggregator.h"
#include "evh_config.h"
#include "runtime.h"
#include "version.h"

namespace jmedia {
namespace {

constexpr ModuleIdentity kIdentity{
    .api_version = JANUS_EVENTHANDLER_API_VERSION,
    .package = "janus.eventhandler.media",
    .name = "JANUS media metrics event handler",
    .description =
        "Turns the core's session, handle, ICE, DTLS, PeerConnection and media events into "
        "janus_core_* Prometheus metrics.",
};
constexpr const char* kPackage = kIdentity.package;
constexpr const char* kName = kIdentity.name;
using Identity = IdentityGetters<kIdentity>;

constexpr auto kDestroyWait = std::chrono::seconds(5);

constinit ModuleSlot<events::EventAggregator> aggregator;

void set_events_mask(std::uint32_t mask);

int init(const char* config_path) noexcept {
  return guarded("init", -1, [&] {
    use_janus_log(kPackage);
    ConfigValues values = read_janus_config(config_path, kPackage).value_or(ConfigValues{});
    const events::EventHandlerConfig config = events::load_evh_config(values);
    if (!config.enabled) {
      set_events_mask(0);
      log_info("%s %s disabled by configuration", kName, kVersionString);
      return 0;
    }
    // Feeds the process-wide ICE-candidate ledger that janus.transport.prometheus enforces
    // (transports load after event handlers: it finds the ledger fed, or logs that it is not).
    if (!aggregator.install(std::make_unique<events::EventAggregator>(
            runtime::registry(), config, &runtime::candidate_ledger(), &runtime::pc_watch()))) {
      log_error("init: %s is initialized already", kName);
      return 0;
    }
    log_info("PeerConnection watch for janus.transport.edge: %s",
             runtime::pc_watch().fed() ? "first selected pairs, ICE failures and hangups reported"
                                       : "off (the events list lacks handles, jsep or webrtc)");
    // The core reads the mask after init() returns (and before it delivers any event).
    set_events_mask(config.events_mask);
    log_info("%s %s initialized (events: %s)", kName, kVersionString,
             events::describe_events_mask(config.events_mask).c_str());
    if (config.cap_enabled()) {
      log_info(
          "ICE-candidate cap: counting remote candidates of %s handles, max_ice_candidates "
          "= %u; janus.transport.prometheus hangs up and detaches the handles over it (if "
          "it is not loaded, they are only counted)",
          config.cap_scope == runtime::CapScope::kMedia ? "janus.plugin.media" : "all",
          config.max_ice_candidates);
    } else {
      log_info("ICE-candidate cap: off (%s)", config.max_ice_candidates == 0
                                                  ? "max_ice_candidates = 0"
                                                  : "the events list lacks handles or webrtc");
    }
    return 0;
  });
}

void destroy() noexcept {
  guarded_void("destroy", [] {
    set_events_mask(0);
    // Freeing the aggregator removes the janus_core_* families and stops feeding the ledger.
    if (aggregator.retire(kDestroyWait)) log_info("%s destroyed", kName);
  });
}

void incoming_event(json_t* event) noexcept {
  // Borrowed (see the top of this file): never released here.
  guarded_void("incoming_event", [&] {
    if (auto a = aggregator.enter(); a && event != nullptr) a->consume(event);
  });
}

json_t* handle_request(json_t* request) noexcept {
  // request is borrowed; the core takes over the returned object (json_object_set_new).
  return guarded("handle_request", static_cast<json_t*>(nullptr), [&]() -> json_t* {
    auto a = aggregator.enter();
    if (!a) {
      JsonPtr off = adopt(json_object());
      set(off.get(), "enabled", false);
      return off.release();
    }
    return a->handle_request(request).release();
  });
}

janus_eventhandler media_eventhandler = {
    .init = init,
    .destroy = destroy,
    .get_api_compatibility = Identity::api_compatibility,
    .get_version = Identity::version,
    .get_version_string = Identity::version_string,
    .get_description = Identity::description,
    .get_name = Identity::name,
    .get_author = Identity::author,
    .get_package = Identity::package,
    .incoming_event = incoming_event,
    .handle_request = handle_request,
    .events_mask = JANUS_EVENT_TYPE_NONE,
};

void set_events_mask(std::uint32_t mask) {
  media_eventhandler.events_mask = mask;
}

}  // namespace
}  // namespace jmedia

extern "C" __attribute__((visibility("default"))) janus_eventhandler* create(void) {
  return &jmedia::media_eventhandler;
}
