#include "api_metrics.h"

#include <string>

namespace jmedia::transport {
namespace {

std::size_t code_index(unsigned code) noexcept {
  for (std::size_t i = 0; i < kApiCodes.size(); ++i) {
    if (kApiCodes[i] == code) return i;
  }
  return kApiCodes.size();
}

}  // namespace

ApiMethod api_method(std::string_view method) noexcept {
  if (method == "GET") return ApiMethod::kGet;
  if (method == "HEAD") return ApiMethod::kHead;
  if (method == "POST") return ApiMethod::kPost;
  if (method == "DELETE") return ApiMethod::kDelete;
  return ApiMethod::kOther;
}

bool api_route_allows(ApiRoute route, ApiMethod method) noexcept {
  const bool read = method == ApiMethod::kGet || method == ApiMethod::kHead;
  switch (route) {
    case ApiRoute::kSessions:
    case ApiRoute::kDevices:
      return read;
    case ApiRoute::kSession:
      return read || method == ApiMethod::kDelete;
    case ApiRoute::kDevice:
      return method == ApiMethod::kDelete;
    case ApiRoute::kDrain:
      return method == ApiMethod::kPost;
    case ApiRoute::kUnknown:
      return false;
  }
  return false;
}

bool ApiMetrics::reachable(ApiRoute route, ApiMethod method, unsigned code) noexcept {
  if (code_index(code) == kApiCodes.size()) return false;
  if (route == ApiRoute::kUnknown) return code == 404;
  if (!api_route_allows(route, method)) return code == 405;
  if (code == 405) return false;
  // Only a body is too large (413) or of the wrong type (415).
  if (code == 413 || code == 415) return route == ApiRoute::kDrain;
  return true;
}

ApiMetrics::ApiMetrics()
    : requests_(std::make_unique<metrics::Counter[]>(kRoutes * kMethods * kCodeCount)) {
  for (std::size_t i = 0; i < kRoutes; ++i) {
    durations_.push_back(std::make_unique<metrics::Histogram>(metrics::latency_buckets()));
  }
}

void ApiMetrics::count(ApiRoute route, ApiMethod method, unsigned code, double seconds) noexcept {
  const auto r = static_cast<std::size_t>(route);
  const auto m = static_cast<std::size_t>(method);
  const std::size_t c = code_index(code);
  if (r >= kRoutes || m >= kMethods || c >= kCodeCount || !reachable(route, method, code)) return;
  requests_[(r * kMethods + m) * kCodeCount + c].add();
  durations_[r]->observe(seconds);
}

std::vector<prometheus::MetricFamily> ApiMetrics::Collect() const {
  auto requests = metrics::family(
      "janus_transport_api_requests_total",
      "Requests of the session REST API (/api/media/...), by route, method and status code.",
      prometheus::MetricType::Counter);
  for (std::size_t r = 0; r < kRoutes; ++r) {
    for (std::size_t m = 0; m < kMethods; ++m) {
      for (std::size_t c = 0; c < kCodeCount; ++c) {
        if (!reachable(static_cast<ApiRoute>(r), static_cast<ApiMethod>(m), kApiCodes[c])) {
          continue;
        }
        metrics::add_counter(
            requests,
            {{"route", std::string(kApiRouteNames[r])},
             {"method", std::string(kApiMethodNames[m])},
             {"code", std::to_string(kApiCodes[c])}},
            static_cast<double>(requests_[(r * kMethods + m) * kCodeCount + c].value()));
      }
    }
  }
  auto durations = metrics::family(
      "janus_transport_api_request_duration_seconds",
      "Time to answer one request of the session REST API, from its headers (or body) to the "
      "response handed to libmicrohttpd, by route.",
      prometheus::MetricType::Histogram);
  for (std::size_t r = 0; r < kRoutes; ++r) {
    metrics::add_histogram(durations, {{"route", std::string(kApiRouteNames[r])}}, *durations_[r]);
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(std::move(requests));
  families.push_back(std::move(durations));
  return families;
}

}  // namespace jmedia::transport
