#include "transport_metrics.h"

namespace jmedia::transport {
namespace {

// Scrapes serialise in well under a millisecond normally; the tail shows a slow collectable.
const prometheus::Histogram::BucketBoundaries kScrapeBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

}  // namespace

TransportMetrics::TransportMetrics(prometheus::Registry& registry, const BuildInfo& build)
    : registry_(registry),
      build_info_family_(prometheus::BuildGauge()
                             .Name("janus_build_info")
                             .Help("Janus and module versions; the value is always 1.")
                             .Register(registry)),
      scrapes_family_(prometheus::BuildCounter()
                          .Name("janus_transport_scrapes_total")
                          .Help("Scrapes of /metrics served.")
                          .Register(registry)),
      scrape_duration_family_(prometheus::BuildHistogram()
                                  .Name("janus_transport_scrape_duration_seconds")
                                  .Help("Time to collect and serialise the metrics of one scrape.")
                                  .Register(registry)),
      requests_family_(prometheus::BuildCounter()
                           .Name("janus_transport_http_requests_total")
                           .Help("HTTP requests answered by the metrics transport, by status code.")
                           .Register(registry)),
      scrapes_(scrapes_family_.Add({})),
      scrape_duration_(scrape_duration_family_.Add({}, kScrapeBuckets)) {
  build_info_family_
      .Add({{"janus_version", build.janus_version}, {"module_version", build.module_version}})
      .Set(1);
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    responses_[i] = &requests_family_.Add({{"code", std::to_string(kCodes[i])}});
  }
}

TransportMetrics::~TransportMetrics() {
  registry_.Remove(requests_family_);
  registry_.Remove(scrape_duration_family_);
  registry_.Remove(scrapes_family_);
  registry_.Remove(build_info_family_);
}

void TransportMetrics::count_response(unsigned code) noexcept {
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i] == code) {
      responses_[i]->Increment();
      return;
    }
  }
}

}  // namespace jmedia::transport
