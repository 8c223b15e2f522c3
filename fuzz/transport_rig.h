// The HTTP server of janus.transport.prometheus as the transport fuzzers run it: auth with
// bearer "s3cret" plus basic "fuzz" / "pa:ss" (ZnV6ejpwYTpzcw==), a small registry of its own
// (a counter, a gauge, a histogram) and readiness that the harness flips.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <string>
#include <string_view>

#include "../transport/http_server.h"
#include "../transport/transport_metrics.h"
#include "fuzz_util.h"

namespace jmedia::fuzz {

using namespace jmedia::transport;

constexpr std::string_view kToken = "s3cret";
constexpr std::string_view kBasic = "ZnV6ejpwYTpzcw==";  // fuzz:pa:ss

class Host final : public ServerHost {
 public:
  explicit Host(prometheus::Registry& registry) : registry_(registry) {}
  std::vector<prometheus::MetricFamily> collect() override { return registry_.Collect(); }
  Readiness readiness() override {
    if (ready.load()) return {true, ""};
    return {false, "draining"};
  }
  std::atomic<bool> ready{true};

 private:
  prometheus::Registry& registry_;
};

struct Rig {
  Rig()
      : metrics(registry, {"1.1.2", "fuzz"}),
        host(registry),
        server(host, metrics,
               {.ip = "127.0.0.1",
                .port = 0,
                .auth = {.bearer_token = std::string(kToken),
                         .basic_user = "fuzz",
                         .basic_password = "pa:ss"},
                .connection_limit = 16,
                .connection_timeout_seconds = 2}) {
    auto& requests = prometheus::BuildCounter().Name("fuzz_requests_total").Register(registry);
    requests.Add({{"code", "200"}}).Increment(3);
    prometheus::BuildGauge().Name("fuzz_sessions").Register(registry).Add({}).Set(2);
    prometheus::BuildHistogram()
        .Name("fuzz_latency_seconds")
        .Register(registry)
        .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 1})
        .Observe(0.5);
  }
  // Starts the server on a free loopback port (the real path); aborts when it cannot.
  void start() {
    std::string error;
    if (!server.start(error)) fail("cannot start the HTTP server: %s", error.c_str());
  }

  prometheus::Registry registry;
  TransportMetrics metrics;
  Host host;
  HttpServer server;
};

}  // namespace jmedia::fuzz
