// The session REST API's metrics: janus_transport_api_requests_total{route,method,code} and
// janus_transport_api_request_duration_seconds{route}. Routes, methods and codes are closed
// sets, and every child that a request can reach exists from the start (at 0): counting is an
// add on a striped counter (common/metrics.h), with no lock and no lookup; children are summed
// when scraped. Registered with the runtime as a scrape-time collectable.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "../common/metrics.h"

namespace jmedia::transport {

enum class ApiRoute : std::uint8_t { kSessions, kSession, kDevices, kDevice, kDrain, kUnknown };
inline constexpr std::array<std::string_view, 6> kApiRouteNames = {
    "sessions", "session", "devices", "device", "drain", "unknown"};

enum class ApiMethod : std::uint8_t { kGet, kHead, kPost, kDelete, kOther };
inline constexpr std::array<std::string_view, 5> kApiMethodNames = {"GET", "HEAD", "POST", "DELETE",
                                                                    "other"};
ApiMethod api_method(std::string_view method) noexcept;

// The methods each route answers (HEAD wherever GET); the others get 405.
bool api_route_allows(ApiRoute route, ApiMethod method) noexcept;

inline constexpr std::array<unsigned, 10> kApiCodes = {200, 400, 401, 403, 404,
                                                       405, 413, 415, 500, 503};

class ApiMetrics final : public prometheus::Collectable {
 public:
  ApiMetrics();

  // A code outside what (route, method) can answer is not counted (the API never sends one).
  void count(ApiRoute route, ApiMethod method, unsigned code, double seconds) noexcept;
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Whether (route, method, code) has a child: what the API can answer.
  static bool reachable(ApiRoute route, ApiMethod method, unsigned code) noexcept;

 private:
  static constexpr std::size_t kRoutes = kApiRouteNames.size();
  static constexpr std::size_t kMethods = kApiMethodNames.size();
  static constexpr std::size_t kCodeCount = kApiCodes.size();
  std::unique_ptr<metrics::Counter[]> requests_;                // [route][method][code]
  std::vector<std::unique_ptr<metrics::Histogram>> durations_;  // [route]
};

}  // namespace jmedia::transport
