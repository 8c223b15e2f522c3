// janus_media_* metrics: what the plugin records, and that a scrape's shape is fixed.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <thread>

#include "../../common/metrics.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using testing::FakeHost;
using testing::FakeSdp;
using testing::flatten;
using testing::jsep;
using testing::parse;

std::size_t series(const std::vector<prometheus::MetricFamily>& families) {
  std::size_t n = 0;
  for (const auto& f : families) n += f.metric.size();
  return n;
}

TEST(MetricsPrimitives, CounterSumsAcrossThreads) {
  metrics::Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counter.add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.value(), 40000u);
}

TEST(MetricsPrimitives, HistogramBucketsAreCumulativeWithInf) {
  metrics::Histogram histogram({0.1, 1.0});
  histogram.observe(0.05);
  histogram.observe(0.1);  // on the bound: counts in le=0.1
  histogram.observe(0.5);
  histogram.observe(7);
  prometheus::ClientMetric metric;
  histogram.fill(metric);
  ASSERT_EQ(metric.histogram.bucket.size(), 3u);
  EXPECT_EQ(metric.histogram.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(metric.histogram.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(metric.histogram.bucket[2].cumulative_count, 4u);
  EXPECT_TRUE(std::isinf(metric.histogram.bucket[2].upper_bound));
  EXPECT_EQ(metric.histogram.sample_count, 4u);
  EXPECT_NEAR(metric.histogram.sample_sum, 7.65, 1e-6);
}

TEST(PluginMetrics, RecordsASessionLifecycle) {
  FakeHost host;
  FakeSdp sdp;
  MediaPlugin plugin(host, sdp, PluginConfig{});
  auto before = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(before["janus_media_sessions_active{role=echo}"], 0);

  janus_plugin_session* handle = host.new_handle();
  int error = 1;
  plugin.create_session(handle, &error);
  plugin.handle_message(handle, "t", parse(R"({"request":"echo"})"), jsep("offer"));
  host.wait_events(1);
  for (int i = 0; i < 1000 && plugin.queue_depth() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto negotiating = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(negotiating["janus_media_sessions_active{role=echo}"], 1);
  EXPECT_EQ(negotiating["janus_media_sessions_created_total{role=echo}"], 1);
  EXPECT_EQ(negotiating["janus_media_requests_total{request=echo,result=ok}"], 1);
  EXPECT_EQ(negotiating["janus_media_request_duration_seconds_count{request=echo}"], 1);
  EXPECT_EQ(negotiating["janus_media_handles"], 1);

  plugin.setup_media(handle);
  char buffer[12] = {};
  janus_plugin_rtp rtp{};
  rtp.video = TRUE;
  rtp.buffer = buffer;
  rtp.length = sizeof buffer;
  plugin.incoming_rtp(handle, &rtp);
  plugin.hangup_media(handle);
  auto after = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(after["janus_media_peerconnections_up_total{role=echo}"], 1);
  EXPECT_EQ(after["janus_media_setup_duration_seconds_count{role=echo}"], 1);
  EXPECT_EQ(after["janus_media_rtp_relayed_packets_total{kind=video}"], 1);
  EXPECT_EQ(after["janus_media_rtp_relayed_bytes_total{kind=video}"], 12);
  EXPECT_EQ(after["janus_media_sessions_active{role=echo}"], 0);
  EXPECT_EQ(after["janus_media_sessions_ended_total{role=echo,reason=peerconnection_closed}"], 1);

  // A negotiation that never comes up counts as failed, with its reason.
  plugin.handle_message(handle, "t2", parse(R"({"request":"echo"})"), jsep("offer"));
  host.wait_events(3);
  for (int i = 0; i < 1000 && plugin.queue_depth() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  plugin.destroy_session(handle, &error);
  auto failed = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(failed["janus_media_peerconnections_failed_total{role=echo,reason=detached}"], 1);
  EXPECT_EQ(failed["janus_media_handles"], 0);
}

TEST(PluginMetrics, ErrorsAndLimitsAreCounted) {
  FakeHost host;
  FakeSdp sdp;
  PluginConfig config;
  config.max_sessions = 1;
  MediaPlugin plugin(host, sdp, config);
  janus_plugin_session* a = host.new_handle();
  janus_plugin_session* b = host.new_handle();
  int error = 1;
  plugin.create_session(a, &error);
  plugin.create_session(b, &error);
  plugin.handle_message(a, "1", parse(R"({"request":"fly"})"), nullptr);
  plugin.handle_message(a, "2", parse(R"({"request":"echo"})"), jsep("offer"));
  host.wait_events(1);
  plugin.handle_message(b, "3", parse(R"({"request":"echo"})"), jsep("offer"));
  host.wait_events(2);
  for (int i = 0; i < 1000 && plugin.queue_depth() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  JsonPtr admin_message = parse(R"({"request":"limits"})");
  plugin.handle_admin_message(admin_message.get());
  auto values = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(values["janus_media_requests_total{request=invalid,result=error}"], 1);
  EXPECT_EQ(values["janus_media_request_errors_total{code=1003}"], 1);
  EXPECT_EQ(values["janus_media_request_errors_total{code=1011}"], 1);
  EXPECT_EQ(values["janus_media_limit_rejections_total{limit=max_sessions}"], 1);
  EXPECT_EQ(values["janus_media_requests_total{request=echo,result=error}"], 1);
  EXPECT_EQ(values["janus_media_requests_total{request=admin_limits,result=ok}"], 1);
  plugin.destroy_session(a, &error);
  plugin.destroy_session(b, &error);
}

TEST(PluginMetrics, ScrapeShapeDoesNotDependOnSessions) {
  FakeHost host;
  FakeSdp sdp;
  MediaPlugin plugin(host, sdp, PluginConfig{});
  const std::size_t empty = series(plugin.metrics()->Collect());
  std::vector<janus_plugin_session*> handles;
  for (int i = 0; i < 500; ++i) {
    janus_plugin_session* handle = host.new_handle();
    int error = 1;
    plugin.create_session(handle, &error);
    handles.push_back(handle);
  }
  EXPECT_EQ(series(plugin.metrics()->Collect()), empty);
  for (auto* handle : handles) {
    int error = 1;
    plugin.destroy_session(handle, &error);
  }
}

TEST(PluginMetrics, PerDeviceSeriesAreOptInAndCapped) {
  PluginMetrics off;
  EXPECT_EQ(off.device_slot("cam1"), PluginMetrics::kOtherDevice);
  for (const auto& family : off.Collect()) {
    EXPECT_EQ(family.name.find("janus_media_device_"), std::string::npos) << family.name;
  }
  PluginMetrics capped(2);
  EXPECT_EQ(capped.device_slot("cam1"), 0);
  EXPECT_EQ(capped.device_slot("cam2"), 1);
  EXPECT_EQ(capped.device_slot("cam1"), 0);
  EXPECT_EQ(capped.device_slot("cam3"), PluginMetrics::kOtherDevice);
  EXPECT_EQ(capped.device_slot("cam4"), PluginMetrics::kOtherDevice);
  capped.device_relayed(0, 100);
  capped.device_relayed(PluginMetrics::kOtherDevice, 10);
  capped.device_relayed(PluginMetrics::kOtherDevice, 10);
  auto values = flatten(capped.Collect());
  EXPECT_EQ(values["janus_media_device_relayed_packets_total{device=cam1}"], 1);
  EXPECT_EQ(values["janus_media_device_relayed_bytes_total{device=cam1}"], 100);
  EXPECT_EQ(values["janus_media_device_relayed_packets_total{device=cam2}"], 0);
  EXPECT_EQ(values["janus_media_device_relayed_packets_total{device=other}"], 2);
  EXPECT_EQ(values.count("janus_media_device_relayed_packets_total{device=cam3}"), 0u);
}

TEST(PluginMetrics, PerDeviceViewersThroughThePlugin) {
  FakeHost host;
  FakeSdp sdp;
  PluginConfig config;
  config.max_device_series = 1;
  MediaPlugin plugin(host, sdp, config);
  auto attach = [&] {
    janus_plugin_session* handle = host.new_handle();
    int error = 1;
    plugin.create_session(handle, &error);
    return handle;
  };
  auto settle = [&](std::size_t events) {
    host.wait_events(events);
    for (int i = 0; i < 1000 && plugin.queue_depth() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  janus_plugin_session* cam1 = attach();
  janus_plugin_session* cam2 = attach();
  // One after the other: the first device to publish gets the one series.
  plugin.handle_message(cam1, "p1", parse(R"({"request":"publish","device_id":"cam1"})"),
                        jsep("offer"));
  settle(1);
  plugin.handle_message(cam2, "p2", parse(R"({"request":"publish","device_id":"cam2"})"),
                        jsep("offer"));
  settle(2);
  janus_plugin_session* v1 = attach();
  janus_plugin_session* v2 = attach();
  plugin.handle_message(v1, "w1", parse(R"({"request":"watch","device_id":"cam1"})"), nullptr);
  plugin.handle_message(v2, "w2", parse(R"({"request":"watch","device_id":"cam2"})"), nullptr);
  settle(4);
  auto values = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(values["janus_media_device_viewers{device=cam1}"], 1);
  EXPECT_EQ(values["janus_media_device_viewers{device=other}"], 1);
  EXPECT_EQ(values.count("janus_media_device_viewers{device=cam2}"), 0u);
  int error = 0;
  for (auto* h : {v1, v2, cam1, cam2}) plugin.destroy_session(h, &error);
}

TEST(PluginMetrics, NoSnapshotAfterShutdown) {
  FakeHost host;
  FakeSdp sdp;
  auto plugin = std::make_unique<MediaPlugin>(host, sdp, PluginConfig{});
  auto metrics = plugin->metrics();
  plugin.reset();  // a scrape may still hold the collectable
  auto values = flatten(metrics->Collect());
  EXPECT_EQ(values.count("janus_media_handles"), 0u);
  EXPECT_EQ(values.count("janus_media_requests_total{request=echo,result=ok}"), 1u);
}

}  // namespace
}  // namespace jmedia

namespace jmedia {
namespace {

TEST(PluginMetrics, RelayFamiliesBothDirectionsFromTheSnapshot) {
  PluginMetrics metrics;
  metrics.set_snapshot_source([] {
    PluginMetrics::Snapshot snapshot;
    snapshot.cluster = true;
    snapshot.relays_out = RelayTotals{2, 100, 5000, 0, 7, 6, 0, 12};
    snapshot.relays_in = RelayTotals{3, 90, 4000, 4, 11, 0, 9, 13};
    return snapshot;
  });
  const auto values = testing::flatten(metrics.Collect());
  const std::map<std::string, double> expected = {
      {"janus_media_relays{direction=out}", 2},
      {"janus_media_relays{direction=in}", 3},
      {"janus_media_relay_packets_total{direction=out}", 100},
      {"janus_media_relay_packets_total{direction=in}", 90},
      {"janus_media_relay_bytes_total{direction=out}", 5000},
      {"janus_media_relay_bytes_total{direction=in}", 4000},
      {"janus_media_relay_lost_total", 4},
      {"janus_media_relay_nacked_total{direction=out}", 7},
      {"janus_media_relay_nacked_total{direction=in}", 11},
      {"janus_media_relay_retransmitted_total", 6},
      {"janus_media_relay_recovered_total", 9},
      {"janus_media_relay_requests_dropped_total", 12},
      {"janus_media_relay_unrouted_total", 13},
  };
  for (const auto& [series, value] : expected) {
    auto found = values.find(series);
    ASSERT_NE(found, values.end()) << series;
    EXPECT_EQ(found->second, value) << series;
  }
  metrics.set_snapshot_source(nullptr);
  EXPECT_EQ(testing::flatten(metrics.Collect()).count("janus_media_relays{direction=out}"), 0u)
      << "no cluster, no relay series";
}

}  // namespace
}  // namespace jmedia
