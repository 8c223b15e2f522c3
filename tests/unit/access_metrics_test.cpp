// janus_media_access_*: every series exists before anything happens (closed label sets), and
// each call counts where it says; errors 1020 and 1021 have their request_errors series.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../../plugin/plugin_metrics.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using testing::counters;

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
