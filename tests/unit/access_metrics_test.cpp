// janus_media_access_*: every series exists before anything happens (closed label sets), and
// each call counts where it says; errors 1020 and 1021 have their request_errors series.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../../plugin/plugin_metrics.h"

namespace jmedia {
namespace {

// name{label=value} -> value, for the counter families named prefix*.
std::map<std::string, double> counters(const PluginMetrics& metrics, const std::string& prefix) {
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

TEST(AccessMetrics, EverySeriesFromTheStart) {
  PluginMetrics metrics;
  const auto all = counters(metrics, "janus_media_access_");
  const std::map<std::string, double> expected = {
      {"janus_media_access_denied_total{reason=missing}", 0},
      {"janus_media_access_denied_total{reason=invalid}", 0},
      {"janus_media_access_denied_total{reason=expired}", 0},
      {"janus_media_access_denied_total{reason=forbidden}", 0},
      {"janus_media_access_granted_total{request=publish}", 0},
      {"janus_media_access_granted_total{request=watch}", 0},
      {"janus_media_access_granted_total{request=echo}", 0},
      {"janus_media_access_granted_total{request=list}", 0},
      {"janus_media_access_granted_total{request=info}", 0},
      {"janus_media_access_granted_total{request=devices}", 0}};
  EXPECT_EQ(all, expected);
  const auto errors = counters(metrics, "janus_media_request_errors_total");
  EXPECT_EQ(errors.count("janus_media_request_errors_total{code=1020}"), 1u);
  EXPECT_EQ(errors.count("janus_media_request_errors_total{code=1021}"), 1u);
}

TEST(AccessMetrics, Counts) {
  PluginMetrics metrics;
  metrics.access().refused(Refusal::kExpired);
  metrics.access().refused(Refusal::kExpired);
  metrics.access().refused(Refusal::kMissing);
  metrics.access().forbidden();
  metrics.access().granted(AccessRequest::kWatch);
  metrics.access().granted(AccessRequest::kDevices);
  metrics.request_error(ErrorCode::kUnauthorized);
  metrics.request_error(ErrorCode::kForbidden);
  metrics.request_error(ErrorCode::kForbidden);
  const auto all = counters(metrics, "janus_media_");
  EXPECT_EQ(all.at("janus_media_access_denied_total{reason=expired}"), 2);
  EXPECT_EQ(all.at("janus_media_access_denied_total{reason=missing}"), 1);
  EXPECT_EQ(all.at("janus_media_access_denied_total{reason=invalid}"), 0);
  EXPECT_EQ(all.at("janus_media_access_denied_total{reason=forbidden}"), 1);
  EXPECT_EQ(all.at("janus_media_access_granted_total{request=watch}"), 1);
  EXPECT_EQ(all.at("janus_media_access_granted_total{request=devices}"), 1);
  EXPECT_EQ(all.at("janus_media_access_granted_total{request=publish}"), 0);
  EXPECT_EQ(all.at("janus_media_request_errors_total{code=1020}"), 1);
  EXPECT_EQ(all.at("janus_media_request_errors_total{code=1021}"), 2);
}

}  // namespace
}  // namespace jmedia
