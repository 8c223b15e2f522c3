// What the HTTP server tests share: a ServerHost fake over a registry of the test's own, and a
// server started on a free loopback port (port 0) with its own TransportMetrics.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>

#include "../../transport/http_server.h"
#include "../../transport/transport_metrics.h"

namespace jmedia::testing {

class FakeServerHost final : public transport::ServerHost {
 public:
  explicit FakeServerHost(prometheus::Registry& registry) : registry_(registry) {}

  std::vector<prometheus::MetricFamily> collect() override {
    collects.fetch_add(1);
    if (fail_collect.load()) throw std::runtime_error("collect failed on purpose");
    return registry_.Collect();
  }
  transport::Readiness readiness() override {
    if (ready.load()) return {true, ""};
    return {false, "draining"};
  }

  std::atomic<bool> ready{true};
  std::atomic<bool> fail_collect{false};
  std::atomic<int> collects{0};

 private:
  prometheus::Registry& registry_;
};

struct TestServer {
  explicit TestServer(transport::AuthConfig auth = {}, std::uint16_t port = 0)
      : metrics(registry, {"1.1.2", "test"}),
        host(registry),
        server(host, metrics, {.ip = "127.0.0.1", .port = port, .auth = std::move(auth)}) {}

  prometheus::Registry registry;
  transport::TransportMetrics metrics;
  FakeServerHost host;
  transport::HttpServer server;
};

}  // namespace jmedia::testing
