// libjmedia_runtime.so: the state that our modules share inside one janus process.
//
// Janus dlopen()s every module as its own shared object, so a static in a header-only or
// static library would be duplicated per module. This library is linked (DT_NEEDED) by each
// module instead and loaded once per process: every module sees the same registry and the same
// readiness flags (and the same ICE-candidate ledger, candidate_ledger.h). It needs nothing from
// the janus executable, so unit tests link it too.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <vector>

#define JMEDIA_RUNTIME_API __attribute__((visibility("default")))

namespace jmedia::runtime {

// The one process-wide metrics registry. Never destroyed (a module thread still running during
// exit() may touch it), so references stay valid for the life of the process.
JMEDIA_RUNTIME_API prometheus::Registry& registry();

// Extra metric sources computed at scrape time (e.g. process metrics read from /proc). The
// runtime keeps a weak reference: the owner keeps the collectable alive and removes it before
// its code goes away (a module's destroy()).
JMEDIA_RUNTIME_API void add_collectable(const std::shared_ptr<prometheus::Collectable>& source);
JMEDIA_RUNTIME_API void remove_collectable(const prometheus::Collectable* source) noexcept;

// Everything to expose on one scrape: registry() first, then each live collectable in the order
// added. Collectables run outside the runtime's lock.
JMEDIA_RUNTIME_API std::vector<prometheus::MetricFamily> collect();

// Readiness, as /readyz reports it: ready while the plugin is not draining and the core accepts
// new sessions. Defaults: not draining, accepting (a module that knows better sets them).
JMEDIA_RUNTIME_API void set_plugin_draining(bool draining) noexcept;
JMEDIA_RUNTIME_API bool plugin_draining() noexcept;
JMEDIA_RUNTIME_API void set_core_accepting(bool accepting) noexcept;
JMEDIA_RUNTIME_API bool core_accepting() noexcept;

}  // namespace jmedia::runtime
