#include "access_metrics.h"

#include <string>

namespace jmedia {

void AccessMetrics::collect(std::vector<prometheus::MetricFamily>& out) const {
  using namespace metrics;
  auto denied = family("janus_media_access_denied_total",
                       "Requests refused by access control (token mode), by reason: no token, "
                       "an invalid or expired one, or one that does not grant the request.",
                       prometheus::MetricType::Counter);
  for (std::size_t i = 0; i < kRefusalLabels.size(); ++i) {
    add_counter(denied, {{"reason", std::string(kRefusalLabels[i])}},
                static_cast<double>(denied_[i].value()));
  }
  add_counter(denied, {{"reason", "forbidden"}},
              static_cast<double>(denied_[kForbiddenIndex].value()));
  out.push_back(std::move(denied));

  auto granted =
      family("janus_media_access_granted_total",
             "Requests a token allowed (token mode), by request.", prometheus::MetricType::Counter);
  for (std::size_t i = 0; i < kAccessRequestLabels.size(); ++i) {
    add_counter(granted, {{"request", std::string(kAccessRequestLabels[i])}},
                static_cast<double>(granted_[i].value()));
  }
  out.push_back(std::move(granted));
}

}  // namespace jmedia
