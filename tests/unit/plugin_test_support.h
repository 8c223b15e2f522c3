// What the tests of MediaPlugin on a fake core share: reading the JSON it pushes, the JSEP it
// is handed, its metrics, and a fixture owning the fake core, the fake SDP engine and the
// plugin with attach()/detach() as the core calls them.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../../common/json.h"
#include "../../plugin/access_config.h"
#include "../../plugin/media_plugin.h"
#include "../../plugin/plugin_metrics.h"
#include "fake_host.h"

namespace jmedia::testing {

inline JsonPtr parse(const std::string& text) {
  json_error_t error;
  return adopt(json_loads(text.c_str(), JSON_DECODE_ANY, &error));
}

// {"type": type, "sdp": sdp}, as the core hands a JSEP to handle_message.
inline JsonPtr jsep(const char* type, const std::string& sdp = fake_offer()) {
  JsonPtr j = adopt(json_object());
  set(j.get(), "type", type);
  set(j.get(), "sdp", std::string_view(sdp));
  return j;
}

// The string field key of a JSON object's text ("" when it is missing or not a string).
inline std::string str(const std::string& json, const char* key) {
  JsonPtr value = parse(json);
  const json_t* v = json_object_get(value.get(), key);
  return json_is_string(v) ? json_string_value(v) : "";
}

// The error_code of a JSON object's text (0 when none).
inline std::int64_t code(const std::string& json) {
  JsonPtr value = parse(json);
  return json_integer_value(json_object_get(value.get(), "error_code"));
}

// Token mode with an HS256 secret, and the issuer and audience tokens must name (if given).
inline AccessConfig hs256_access(std::string secret,
                                 std::optional<std::string> issuer = std::nullopt,
                                 std::optional<std::string> audience = std::nullopt) {
  AccessConfig config;
  config.mode = AccessMode::kToken;
  config.algorithm = JwtAlgorithm::kHS256;
  config.key = std::move(secret);
  config.issuer = std::move(issuer);
  config.audience = std::move(audience);
  return config;
}

// name{label=value} -> value for the counters of the plugin's families named prefix*.
inline std::map<std::string, double> counters(const PluginMetrics& metrics,
                                              const std::string& prefix) {
  std::map<std::string, double> out;
  for (const auto& family : metrics.Collect()) {
    if (family.name.rfind(prefix, 0) != 0 || family.type != prometheus::MetricType::Counter) {
      continue;
    }
    for (const auto& metric : family.metric) {
      std::string key = family.name;
      for (const auto& label : metric.label) key += "{" + label.name + "=" + label.value + "}";
      out[key] = metric.counter.value;
    }
  }
  return out;
}

// name{label=value,...} -> value, for counters and gauges (histograms: _count and _sum).
inline std::map<std::string, double> flatten(
    const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> out;
  for (const auto& family : families) {
    for (const auto& metric : family.metric) {
      std::string labels;
      for (const auto& label : metric.label) {
        labels += (labels.empty() ? "" : ",") + label.name + "=" + label.value;
      }
      const std::string key = labels.empty() ? "" : "{" + labels + "}";
      switch (family.type) {
        case prometheus::MetricType::Counter:
          out[family.name + key] = metric.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          out[family.name + key] = metric.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          out[family.name + "_count" + key] = static_cast<double>(metric.histogram.sample_count);
          out[family.name + "_sum" + key] = metric.histogram.sample_sum;
          break;
        default:
          break;
      }
    }
  }
  return out;
}

// The fake core, the fake SDP engine and the plugin (made by the test's fixture), with the
// core's create_session/destroy_session, sync requests and admin requests. A fixture whose members
// the plugin's threads use resets plugin in its TearDown, before those members go.
class PluginTest : public ::testing::Test {
 protected:
  janus_plugin_session* attach() {
    janus_plugin_session* handle = host.new_handle();
    int error = 1;
    plugin->create_session(handle, &error);
    EXPECT_EQ(error, 0);
    return handle;
  }
  void detach(janus_plugin_session* handle) {
    int error = 1;
    plugin->destroy_session(handle, &error);
    EXPECT_EQ(error, 0);
  }
  // A sync request: the plugin's reply body.
  JsonPtr sync(janus_plugin_session* handle, const std::string& body) {
    Reply reply = plugin->handle_message(handle, "sync", parse(body), nullptr);
    EXPECT_EQ(reply.kind, Reply::Kind::kSync) << body;
    return std::move(reply.body);
  }
  // Sends an async request and waits for the event with its transaction.
  PushedEvent request(janus_plugin_session* handle, const std::string& body, JsonPtr j = nullptr) {
    const std::string tx = "tx" + std::to_string(++counter);
    Reply reply = plugin->handle_message(handle, tx.c_str(), parse(body), std::move(j));
    EXPECT_EQ(reply.kind, Reply::Kind::kAsync) << body;
    for (int i = 0; i < 5000; ++i) {
      for (const auto& e : host.events()) {
        if (e.transaction == tx) return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "no event for " << body;
    return {};
  }
  // An admin API message_plugin request: the plugin's answer.
  JsonPtr admin(const std::string& body) {
    JsonPtr message = parse(body);
    return plugin->handle_admin_message(message.get());
  }

  FakeHost host;
  FakeSdp sdp;
  std::unique_ptr<MediaPlugin> plugin;
  int counter = 0;  // request()'s transactions
};

}  // namespace jmedia::testing
