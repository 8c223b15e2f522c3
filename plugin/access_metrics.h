// Access control's metrics: janus_media_access_denied_total{reason} (a refused token, or a
// valid one that does not grant the request) and janus_media_access_granted_total{request}.
// Every series exists from the start (closed label sets); updates are striped atomics.
// PluginMetrics owns one and adds its families to each scrape.
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <vector>

#include "../common/metrics.h"
#include "grants.h"
#include "token_verifier.h"

namespace jmedia {

class AccessMetrics {
 public:
  void refused(Refusal refusal) { denied_[static_cast<std::size_t>(refusal)].add(); }
  void forbidden() { denied_[kForbiddenIndex].add(); }
  void granted(AccessRequest request) { granted_[static_cast<std::size_t>(request)].add(); }

  // Appends the two families to a scrape.
  void collect(std::vector<prometheus::MetricFamily>& out) const;

 private:
  static constexpr std::size_t kForbiddenIndex = kRefusalLabels.size();
  std::array<metrics::Counter, kRefusalLabels.size() + 1> denied_;  // refusals, then forbidden
  std::array<metrics::Counter, kAccessRequestLabels.size()> granted_;
};

}  // namespace jmedia
