// The HTTP server of janus.transport.prometheus as the transport fuzzers run it: auth with
// bearer "s3cret" plus basic "fuzz" / "pa:ss" (ZnV6ejpwYTpzcw==), a small registry of its own
// (a counter, a gauge, a histogram) and readiness that the harness flips; the session REST API
// mounted on it with api_token "r3ad-t0ken" and api_admin_token "adm1n-t0ken" (so nothing is
// served without a credential), over a view (FuzzView) that checks every request object the
// API hands it and answers like the plugin.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "../runtime/media_view.h"
#include "../transport/api_metrics.h"
#include "../transport/http_server.h"
#include "../transport/media_api.h"
#include "../transport/transport_metrics.h"
#include "fuzz_util.h"

namespace jmedia::fuzz {

using namespace jmedia::transport;

constexpr std::string_view kToken = "s3cret";
constexpr std::string_view kBasic = "ZnV6ejpwYTpzcw==";  // fuzz:pa:ss
constexpr std::string_view kReadToken = "r3ad-t0ken";
constexpr std::string_view kAdminToken = "adm1n-t0ken";

// The plugin as the REST API sees it (runtime/media_view.h). Every request must be one the
// plugin's admin parser knows, with only the fields the route maps; the answers are the
// plugin's shapes (an error for an "info" of a session id ending in 'f', so that the API's
// error path runs too).
class FuzzView final : public runtime::MediaView {
 public:
  JsonPtr read(const json_t* request) override {
    ++reads;
    const std::string name = checked(request, {"list", "info", "devices"});
    if (name == "info") {
      const json_t* id = json_object_get(request, "media_session");
      FUZZ_CHECK(json_is_string(id), "info without a media_session string");
      const std::string_view text(json_string_value(id), json_string_length(id));
      if (!text.empty() && text.back() == 'f') {
        return parse_json(R"({"media":"event","error_code":1018,"error":"no such session"})");
      }
      return parse_json(R"({"media":"info","session":{}})");
    }
    return parse_json(name == "list" ? R"({"media":"list","sessions":[],"next_cursor":null})"
                                     : R"({"media":"devices","devices":[],"next_cursor":null})");
  }
  JsonPtr command(const json_t* request) override {
    ++commands;
    const std::string name = checked(request, {"kick", "drain"});
    return parse_json(name == "kick" ? R"({"media":"kick","kicked":0})"
                                     : R"({"media":"drain","enabled":false,"active_sessions":0})");
  }
  bool token_access() override { return token_mode.load(); }

  std::atomic<bool> token_mode{false};
  std::atomic<int> reads{0};
  std::atomic<int> commands{0};

 private:
  static std::string checked(const json_t* request, std::initializer_list<std::string_view> names) {
    FUZZ_CHECK(json_is_object(request), "the view got a non-object");
    const json_t* name = json_object_get(request, "request");
    FUZZ_CHECK(json_is_string(name), "the view got no request name");
    const std::string text = json_string_value(name);
    bool known = false;
    for (auto n : names) known |= n == text;
    FUZZ_CHECK(known, "the view got request '%s'", text.c_str());
    // The fields each request may carry from a route (query, path, body).
    const std::vector<std::string_view> allowed =
        text == "list"
            ? std::vector<std::string_view>{"device_id", "role", "limit", "cursor", "detail"}
        : text == "devices" ? std::vector<std::string_view>{"limit", "cursor"}
        : text == "info"    ? std::vector<std::string_view>{"media_session"}
        : text == "kick"    ? std::vector<std::string_view>{"media_session", "device_id", "reason"}
                            : std::vector<std::string_view>{"enabled"};
    const char* key = nullptr;
    json_t* value = nullptr;
    json_object_foreach(const_cast<json_t*>(request), key, value) {
      if (std::string_view(key) == "request") continue;
      bool ok = false;
      for (auto field : allowed) ok |= field == key;
      FUZZ_CHECK(ok, "'%s' got field '%s'", text.c_str(), key);
      FUZZ_CHECK(
          std::string_view(key) != "reason" ||
              (json_is_string(value) && std::string_view(json_string_value(value)) == "operator"),
          "a kick with another reason than operator");
    }
    return text;
  }
};

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

inline AuthConfig rig_auth() {
  return {.bearer_token = std::string(kToken), .basic_user = "fuzz", .basic_password = "pa:ss"};
}

struct Rig {
  Rig()
      : metrics(registry, {"1.1.2", "fuzz"}),
        host(registry),
        api(MediaApiOptions{.metrics_auth = rig_auth(),
                            .api_token = std::string(kReadToken),
                            .api_admin_token = std::string(kAdminToken)},
            api_metrics),
        server(host, metrics,
               {.ip = "127.0.0.1",
                .port = 0,
                .auth = rig_auth(),
                .connection_limit = 16,
                .connection_timeout_seconds = 2,
                .threads = 2},
               &api) {
    if (!runtime::publish_media_view(&view)) fail("cannot publish the fuzz view");
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
  FuzzView view;
  ApiMetrics api_metrics;
  MediaApi api;
  HttpServer server;
};

}  // namespace jmedia::fuzz
