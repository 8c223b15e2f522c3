#include "runtime_host.h"

#include "runtime.h"

namespace jmedia::transport {

std::vector<prometheus::MetricFamily> RuntimeHost::collect() {
  return runtime::collect();
}

Readiness RuntimeHost::readiness() {
  if (runtime::plugin_draining()) return {false, "the media plugin is draining"};
  if (!runtime::core_accepting()) return {false, "the core does not accept new sessions"};
  return {true, ""};
}

}  // namespace jmedia::transport
