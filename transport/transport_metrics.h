// The transport's own metrics: scrapes, scrape latency, responses by status code, and the
// build info (the session REST API's own are in api_metrics.h). Every child is created here, at
// start, so counting on the request path is an atomic add, not a map lookup. The families are
// removed from the registry on destruction.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <string>

namespace jmedia::transport {

struct BuildInfo {
  std::string janus_version;   // e.g. "1.1.2"
  std::string module_version;  // this module's version
};

class TransportMetrics {
 public:
  // The status codes the server answers with; each has a registered child.
  static constexpr std::array<unsigned, 10> kCodes = {200, 400, 401, 403, 404,
                                                      405, 413, 415, 500, 503};

  TransportMetrics(prometheus::Registry& registry, const BuildInfo& build);
  ~TransportMetrics();
  TransportMetrics(const TransportMetrics&) = delete;
  TransportMetrics& operator=(const TransportMetrics&) = delete;

  void count_scrape() noexcept { scrapes_.Increment(); }
  void observe_scrape_duration(double seconds) noexcept { scrape_duration_.Observe(seconds); }
  // A code outside kCodes is not counted (the server never sends one).
  void count_response(unsigned code) noexcept;

 private:
  prometheus::Registry& registry_;
  prometheus::Family<prometheus::Gauge>& build_info_family_;
  prometheus::Family<prometheus::Counter>& scrapes_family_;
  prometheus::Family<prometheus::Histogram>& scrape_duration_family_;
  prometheus::Family<prometheus::Counter>& requests_family_;
  prometheus::Counter& scrapes_;
  prometheus::Histogram& scrape_duration_;
  std::array<prometheus::Counter*, kCodes.size()> responses_{};
};

}  // namespace jmedia::transport
