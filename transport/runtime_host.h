// ServerHost over libjmedia_runtime: the process-wide registry plus scrape-time collectables,
// and the readiness flags that the other modules set.
#pragma once

#include "http_server.h"

namespace jmedia::transport {

class RuntimeHost final : public ServerHost {
 public:
  std::vector<prometheus::MetricFamily> collect() override;
  Readiness readiness() override;
};

}  // namespace jmedia::transport
