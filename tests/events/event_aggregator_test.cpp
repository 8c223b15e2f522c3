// EventAggregator fed with events shaped like Janus 1.1.2's (see events/event_shapes.h and the
// captured fixture), checked through the janus_core_* metrics of a private registry.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "../../common/json.h"
#include "../../events/event_aggregator.h"
#include "event_json.h"

namespace jmedia::events {
namespace {

using testing::event_head;
using testing::kHandle;
using testing::kSession;

constexpr std::uint64_t kTransport = 11509918411324741208u;  // above INT64_MAX, as captured

std::string session_event(std::uint64_t session, const std::string& name,
                          std::uint64_t transport = 0) {
  std::string body = R"({"name":")" + name + "\"";
  if (transport != 0) {
    body += R"(,"transport":{"transport":"janus.transport.websockets","id":")" +
            std::to_string(transport) + "\"}";
  }
  return event_head(1, 0) + R"(,"session_id":)" + std::to_string(session) + R"(,"event":)" + body +
         "}}";
}

std::string handle_event(std::uint64_t handle, const std::string& name, const std::string& plugin,
                         std::uint64_t session = kSession) {
  std::string body = R"({"name":")" + name + "\"";
  if (!plugin.empty()) body += R"(,"plugin":")" + plugin + "\"";
  return event_head(2, 0) + R"(,"session_id":)" + std::to_string(session) + R"(,"handle_id":)" +
         std::to_string(handle) + R"(,"event":)" + body + "}}";
}

std::string handle_scoped(int type, int subtype, std::uint64_t handle, const std::string& body) {
  return event_head(type, subtype) + R"(,"session_id":)" + std::to_string(kSession) +
         R"(,"handle_id":)" + std::to_string(handle) + R"(,"event":)" + body + "}";
}

std::string webrtc(int subtype, const std::string& body, std::uint64_t handle = kHandle) {
  return handle_scoped(16, subtype, handle, body);
}

std::string media(int subtype, const std::string& body, std::uint64_t handle = kHandle) {
  return handle_scoped(32, subtype, handle, body);
}

std::string transport_event(std::uint64_t id, const std::string& what) {
  return event_head(128, 0) + R"(,"event":{"transport":"janus.transport.websockets","id":")" +
         std::to_string(id) + R"(","data":{"event":")" + what + "\"}}}";
}

std::string started(int reclaim) {
  return event_head(256, 1) +
         R"(,"event":{"status":"started","info":{"janus":"server_info",)"
         R"("version":1102,"session-timeout":60,"reclaim-session-timeout":)" +
         std::to_string(reclaim) + "}}}";
}

std::string hangup(const std::string& reason, std::uint64_t handle = kHandle) {
  return webrtc(6, R"({"connection":"hangup","reason":")" + reason + "\"}", handle);
}

std::string webrtcup(std::uint64_t handle = kHandle) {
  return webrtc(6, R"({"connection":"webrtcup"})", handle);
}

// A stats entry as Janus 1.1.2 builds it (ice.c), with the counts that matter here.
std::string stats_entry(const std::string& kind, int mindex, int rtt, int lost, int lost_remote,
                        int jitter_local, int jitter_remote, int nacks_received, int nacks_sent,
                        int packets = 100) {
  return R"({"mid":")" + std::to_string(mindex) + R"(","mindex":)" + std::to_string(mindex) +
         R"(,"media":")" + kind + R"(","codec":"opus","base":48000,"rtt":)" + std::to_string(rtt) +
         R"(,"lost":)" + std::to_string(lost) + R"(,"lost-by-remote":)" +
         std::to_string(lost_remote) + R"(,"jitter-local":)" + std::to_string(jitter_local) +
         R"(,"jitter-remote":)" + std::to_string(jitter_remote) +
         R"(,"in-link-quality":100,"in-media-link-quality":100,"out-link-quality":100,)"
         R"("out-media-link-quality":100,"packets-received":)" +
         std::to_string(packets) + R"(,"packets-sent":)" + std::to_string(packets) +
         R"(,"bytes-received":23338,"bytes-sent":23338,"bytes-received-lastsec":13941,)"
         R"("bytes-sent-lastsec":13941,"nacks-received":)" +
         std::to_string(nacks_received) + R"(,"nacks-sent":)" + std::to_string(nacks_sent) +
         R"(,"retransmissions-received":0})";
}

constexpr std::size_t kAudio = 0;
constexpr std::size_t kVideo = 1;
constexpr std::size_t kIn = 0;
constexpr std::size_t kOut = 1;

class AggregatorTest : public ::testing::Test {
 protected:
  void SetUp() override { make(EventHandlerConfig{}); }

  void make(const EventHandlerConfig& config) {
    aggregator_.reset();
    aggregator_ = std::make_unique<EventAggregator>(registry_, config);
  }

  void feed(const std::string& text) {
    json_error_t error;
    JsonPtr event = adopt(json_loads(text.c_str(), 0, &error));
    ASSERT_NE(event, nullptr) << error.text << " in " << text;
    aggregator_->consume(event.get());
    EXPECT_EQ(event->refcount, 1u) << "the aggregator must not keep or release the event";
  }

  // One PeerConnection's life on kHandle, as captured from an echotest session.
  void attach_and_connect(std::uint64_t handle = kHandle,
                          const std::string& plugin = "janus.plugin.echotest") {
    feed(handle_event(handle, "attached", plugin));
    for (const char* state : {"gathering", "connecting", "connected", "ready"}) {
      feed(webrtc(1, std::string(R"({"ice":")") + state + R"(","stream_id":1,"component_id":1})",
                  handle));
    }
    feed(webrtc(4,
                R"({"selected-pair":"127.0.0.1:44243 [host,udp] <-> 127.0.0.1:53190 [host,udp]",)"
                R"("candidates":{"local":{"address":"127.0.0.1","port":44243,"type":"host",)"
                R"("transport":"udp","family":4},"remote":{"address":"127.0.0.1","port":53190,)"
                R"("type":"host","transport":"udp","family":4}},"stream_id":1,"component_id":1})",
                handle));
    feed(webrtc(5, R"({"dtls":"trying","stream_id":1,"component_id":1,"retransmissions":0})",
                handle));
    feed(webrtc(5, R"({"dtls":"connected","stream_id":1,"component_id":1,"retransmissions":0})",
                handle));
    feed(webrtcup(handle));
  }

  CoreMetrics& m() { return aggregator_->metrics(); }

  std::string exposition() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  prometheus::Registry registry_;
  std::unique_ptr<EventAggregator> aggregator_;
};

TEST_F(AggregatorTest, RegistersEveryKnownChildAtStart) {
  const std::string text = exposition();
  const char* const expected[] = {
      "janus_core_sessions 0",
      "janus_core_handles 0",
      "janus_core_peerconnections 0",
      "janus_core_events_total{type=\"session\"} 0",
      "janus_core_events_total{type=\"other\"} 0",
      "janus_core_sessions_destroyed_total{reason=\"transport_gone\"} 0",
      "janus_core_handles_attached_total{plugin=\"other\"} 0",
      "janus_core_peerconnection_hangups_total{reason=\"ice_failed\"} 0",
      "janus_core_peerconnection_hangups_total{reason=\"other\"} 0",
      "janus_core_ice_state_transitions_total{state=\"failed\"} 0",
      "janus_core_dtls_state_transitions_total{state=\"connected\"} 0",
      R"(janus_core_selected_pairs_total{local_type="relay",remote_type="srflx",transport="tcp"} 0)",
      "janus_core_remote_candidates_total{type=\"prflx\"} 0",
      "janus_core_slow_link_events_total{link=\"uplink\",media=\"video\"} 0",
      "janus_core_lost_packets_total{direction=\"outbound\",media=\"audio\"} 0",
      "janus_core_nacks_total{direction=\"sent\",media=\"video\"} 0",
      "janus_core_rtt_seconds_count{media=\"audio\"} 0",
      "janus_core_jitter_seconds_bucket{direction=\"inbound\",media=\"video\",le=\"0.001\"} 0",
  };
  for (const char* series : expected) {
    EXPECT_NE(text.find(series), std::string::npos) << series << " missing from\n" << text;
  }
  // 4 x 4 x 2 known pairs, nothing with "other" until one is seen.
  std::size_t pairs = 0;
  for (std::size_t pos = 0;
       (pos = text.find("janus_core_selected_pairs_total{", pos)) != std::string::npos; ++pos) {
    ++pairs;
  }
  EXPECT_EQ(pairs, 32u);
}

TEST_F(AggregatorTest, SessionLifecycleMovesGaugesAndCounters) {
  feed(session_event(kSession, "created", kTransport));
  EXPECT_EQ(m().sessions().Value(), 1);
  attach_and_connect();
  EXPECT_EQ(m().handles().Value(), 1);
  EXPECT_EQ(m().peerconnections().Value(), 1);
  feed(hangup("Janus API"));
  EXPECT_EQ(m().peerconnections().Value(), 0);
  feed(handle_event(kHandle, "detached", "janus.plugin.echotest"));
  EXPECT_EQ(m().handles().Value(), 0);
  feed(session_event(kSession, "destroyed"));
  EXPECT_EQ(m().sessions().Value(), 0);

  EXPECT_EQ(m().sessions_created().Value(), 1);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kRequest).Value(), 1);
  EXPECT_EQ(m().peerconnections_established().Value(), 1);
  EXPECT_EQ(m().hangups(hangup_reason_index("Janus API")).Value(), 1);
  EXPECT_EQ(m().hangups(hangup_reason_index("Detach")).Value(), 0);
  const std::uint16_t echotest = m().plugins().resolve("janus.plugin.echotest");
  EXPECT_EQ(m().plugins().attached(echotest).Value(), 1);
  EXPECT_EQ(m().plugins().detached(echotest).Value(), 1);
  EXPECT_EQ(m().ice_state(index_of(kIceStates, "gathering")).Value(), 1);
  EXPECT_EQ(m().ice_state(index_of(kIceStates, "ready")).Value(), 1);
  EXPECT_EQ(m().dtls_state(index_of(kDtlsStates, "trying")).Value(), 1);
  EXPECT_EQ(m().dtls_state(index_of(kDtlsStates, "connected")).Value(), 1);
  EXPECT_EQ(m().selected_pair(0, 0, 0).Value(), 1);  // host, host, udp
  EXPECT_EQ(m().events(event_type_index(kTypeWebrtc)).Value(), 9);
  EXPECT_EQ(m().unrecognized().Value(), 0);
}

TEST_F(AggregatorTest, TimeoutEndsASession) {
  feed(session_event(kSession, "created", kTransport));
  feed(session_event(kSession, "timeout"));
  EXPECT_EQ(m().sessions().Value(), 0);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kTimeout).Value(), 1);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kRequest).Value(), 0);
}

TEST_F(AggregatorTest, RepeatedOrUnknownIdsDoNotSkewTheGauges) {
  feed(session_event(kSession, "created"));
  feed(session_event(kSession, "created"));
  EXPECT_EQ(m().sessions().Value(), 1);
  EXPECT_EQ(m().sessions_created().Value(), 2);  // the counter counts the core's events
  feed(session_event(42, "destroyed"));
  EXPECT_EQ(m().sessions().Value(), 1);
  feed(handle_event(7, "detached", "janus.plugin.echotest"));
  EXPECT_EQ(m().handles().Value(), 0);
  feed(webrtcup(99));  // a handle we never saw attached: counted, not tracked
  EXPECT_EQ(m().peerconnections().Value(), 0);
  EXPECT_EQ(m().peerconnections_established().Value(), 1);
  feed(hangup("Janus API", 99));
  EXPECT_EQ(m().peerconnections().Value(), 0);
}

TEST_F(AggregatorTest, AClosedWebSocketEndsItsSessionsWhenReclaimIsDisabled) {
  // Captured: a client that closes its WebSocket without "destroy" gets its handles detached
  // and its session destroyed by the core, and no session event says so.
  feed(started(0));
  feed(transport_event(kTransport, "connected"));
  feed(session_event(kSession, "created", kTransport));
  feed(session_event(kSession + 1, "created", kTransport));
  feed(session_event(kSession + 2, "created", kTransport + 1));  // another connection
  attach_and_connect();
  feed(transport_event(kTransport, "disconnected"));
  feed(handle_event(kHandle, "detached", "janus.plugin.echotest"));
  EXPECT_EQ(m().sessions().Value(), 1);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kTransportGone).Value(), 2);
  EXPECT_EQ(m().handles().Value(), 0);
  EXPECT_EQ(m().peerconnections().Value(), 0);
  EXPECT_EQ(m().hangups(hangup_reason_index("Detach")).Value(), 1);
  // A second disconnect of the same id (pointer reuse) finds nothing left to end.
  feed(transport_event(kTransport, "disconnected"));
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kTransportGone).Value(), 2);
  feed(session_event(kSession + 2, "destroyed"));
  EXPECT_EQ(m().sessions().Value(), 0);
}

TEST_F(AggregatorTest, WithReclaimEnabledSessionsOutliveTheirWebSocket) {
  feed(started(30));
  EXPECT_EQ(aggregator_->reclaim_session_timeout(), 30);
  feed(session_event(kSession, "created", kTransport));
  feed(transport_event(kTransport, "disconnected"));
  EXPECT_EQ(m().sessions().Value(), 1);
  feed(session_event(kSession, "timeout"));  // not reclaimed in time
  EXPECT_EQ(m().sessions().Value(), 0);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kTimeout).Value(), 1);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kTransportGone).Value(), 0);
}

TEST_F(AggregatorTest, HttpRequestEventsEndNothing) {
  feed(session_event(kSession, "created", kTransport));
  feed(event_head(128, 0) + R"(,"event":{"transport":"janus.transport.http","id":")" +
       std::to_string(kTransport) +
       R"(","data":{"event":"request","admin_api":false,"ip":"127.0.0.1","port":40338}}})");
  EXPECT_EQ(m().sessions().Value(), 1);
  EXPECT_EQ(m().unrecognized().Value(), 0);
}

TEST_F(AggregatorTest, PluginSeriesAreCappedWithTheRestUnderOther) {
  EventHandlerConfig config;
  config.max_plugin_series = 2;
  make(config);
  feed(handle_event(1, "attached", "janus.plugin.echotest"));
  feed(handle_event(2, "attached", "janus.plugin.media"));
  feed(handle_event(3, "attached", "janus.plugin.videoroom"));
  feed(handle_event(4, "attached", "janus.plugin.streaming"));
  feed(handle_event(5, "attached", "janus.plugin.echotest"));
  feed(handle_event(6, "attached", "bad plugin name\\n"));
  const std::string text = exposition();
  EXPECT_NE(text.find("janus_core_handles_attached_total{plugin=\"janus.plugin.echotest\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("janus_core_handles_attached_total{plugin=\"janus.plugin.media\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("janus_core_handles_attached_total{plugin=\"other\"} 3"), std::string::npos);
  EXPECT_EQ(text.find("videoroom"), std::string::npos);
  EXPECT_EQ(m().plugins().size(), 3u);
  // A detach without a plugin name goes to the slot the handle was attached under.
  feed(handle_event(2, "detached", ""));
  EXPECT_NE(exposition().find("janus_core_handles_detached_total{plugin=\"janus.plugin.media\"} 1"),
            std::string::npos);
  EXPECT_EQ(m().handles().Value(), 5);
}

TEST_F(AggregatorTest, ZeroPluginSeriesPutsEverythingUnderOther) {
  EventHandlerConfig config;
  config.max_plugin_series = 0;
  make(config);
  feed(handle_event(1, "attached", "janus.plugin.echotest"));
  EXPECT_EQ(m().plugins().size(), 1u);
  EXPECT_EQ(m().plugins().attached(PluginSeries::kOtherSlot).Value(), 1);
}

TEST_F(AggregatorTest, AHangupBeforeWebrtcupCountsTheReasonOnly) {
  feed(handle_event(kHandle, "attached", "janus.plugin.echotest"));
  feed(webrtc(1, R"({"ice":"failed","stream_id":1,"component_id":1})"));
  feed(hangup("ICE failed"));
  EXPECT_EQ(m().peerconnections().Value(), 0);
  EXPECT_EQ(m().hangups(hangup_reason_index("ICE failed")).Value(), 1);
  EXPECT_EQ(m().ice_state(index_of(kIceStates, "failed")).Value(), 1);
  // A new PeerConnection on the same handle, then a hangup with a reason we do not know.
  feed(webrtcup());
  EXPECT_EQ(m().peerconnections().Value(), 1);
  feed(webrtcup());
  EXPECT_EQ(m().peerconnections().Value(), 1);
  feed(hangup("Some future reason"));
  EXPECT_EQ(m().hangups(CoreMetrics::kOtherReason).Value(), 1);
  EXPECT_EQ(m().peerconnections().Value(), 0);
  feed(webrtc(6, R"({"connection":"hangup"})"));
  EXPECT_EQ(m().hangups(CoreMetrics::kOtherReason).Value(), 2);
}

TEST_F(AggregatorTest, UnknownStatesAndTypesGoToOther) {
  feed(webrtc(1, R"({"ice":"frozen","stream_id":1,"component_id":1})"));
  feed(webrtc(5, R"({"dtls":"closed","stream_id":1,"component_id":1})"));
  feed(webrtc(3, R"({"remote-candidate":"1 1 udp 1 127.0.0.1 9 typ weird","stream_id":1})"));
  feed(webrtc(3, R"({"remote-candidate":"garbage","stream_id":1})"));
  EXPECT_EQ(m().ice_state(CoreMetrics::kOtherIce).Value(), 1);
  EXPECT_EQ(m().dtls_state(CoreMetrics::kOtherDtls).Value(), 1);
  EXPECT_EQ(m().remote_candidates(CoreMetrics::kOtherCandidate).Value(), 2);
  EXPECT_EQ(m().unrecognized().Value(), 0);
}

TEST_F(AggregatorTest, SelectedPairsByTypeAndTransport) {
  feed(webrtc(4, R"({"selected-pair":"10.0.0.1:50000 [relay,tcp] <-> 203.0.113.9:3478 )"
                 R"([srflx,tcp]","candidates":{"local":{"type":"relay","transport":"tcp"},)"
                 R"("remote":{"type":"srflx","transport":"tcp"}},"stream_id":1})"));
  feed(webrtc(4, R"({"selected-pair":"1 <-> 2","stream_id":1})"));  // no TCP libnice
  const std::size_t relay = index_of(kCandidateTypes, "relay");
  const std::size_t srflx = index_of(kCandidateTypes, "srflx");
  EXPECT_EQ(m().selected_pair(relay, srflx, 1).Value(), 1);
  EXPECT_EQ(m().selected_pair_value(CoreMetrics::kOtherCandidate, CoreMetrics::kOtherCandidate,
                                    CoreMetrics::kOtherTransport),
            1);
  EXPECT_NE(exposition().find("janus_core_selected_pairs_total{local_type=\"other\","
                              "remote_type=\"other\",transport=\"other\"} 1"),
            std::string::npos);
}

TEST_F(AggregatorTest, RemoteCandidatesByType) {
  feed(webrtc(3, R"({"remote-candidate":"16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 )"
                 R"(127.0.0.1 53190 typ host","stream_id":1,"component_id":1})"));
  feed(webrtc(3, R"({"remote-candidate":"2 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr )"
                 R"(10.0.0.2 rport 46154","stream_id":1,"component_id":1})"));
  feed(webrtc(3, R"({"remote-candidate":"3 1 udp 41885439 198.51.100.9 3478 typ relay raddr )"
                 R"(0.0.0.0 rport 0","stream_id":1,"component_id":1})"));
  EXPECT_EQ(m().remote_candidates(index_of(kCandidateTypes, "host")).Value(), 1);
  EXPECT_EQ(m().remote_candidates(index_of(kCandidateTypes, "srflx")).Value(), 1);
  EXPECT_EQ(m().remote_candidates(index_of(kCandidateTypes, "relay")).Value(), 1);
  EXPECT_EQ(m().remote_candidates(index_of(kCandidateTypes, "prflx")).Value(), 0);
}

TEST_F(AggregatorTest, LostAndNackCountersFollowTheGrowthOfCumulativeCounts) {
  attach_and_connect();
  feed(media(3, stats_entry("audio", 0, 0, 5, 2, 0, 1, 3, 4)));
  feed(media(3, stats_entry("video", 1, 0, 10, 0, 0, 0, 0, 7)));
  feed(media(3, stats_entry("audio", 0, 0, 8, 2, 0, 1, 3, 6)));
  EXPECT_EQ(m().lost_packets(kAudio, kIn).Value(), 8);
  EXPECT_EQ(m().lost_packets(kAudio, kOut).Value(), 2);
  EXPECT_EQ(m().nacks(kAudio, 0).Value(), 3);  // received
  EXPECT_EQ(m().nacks(kAudio, 1).Value(), 6);  // sent
  EXPECT_EQ(m().lost_packets(kVideo, kIn).Value(), 10);
  EXPECT_EQ(m().nacks(kVideo, 1).Value(), 7);
  // The peer's cumulative loss may go down (duplicates): re-based, nothing subtracted.
  feed(media(3, stats_entry("audio", 0, 0, 8, 1, 0, 1, 3, 6)));
  feed(media(3, stats_entry("audio", 0, 0, 8, 4, 0, 1, 3, 6)));
  EXPECT_EQ(m().lost_packets(kAudio, kOut).Value(), 5);
  // A bogus jump (a negative 24-bit count read as unsigned) is not counted.
  feed(media(3, stats_entry("audio", 0, 0, 8, 0xFFFFFF, 0, 1, 3, 6)));
  EXPECT_EQ(m().lost_packets(kAudio, kOut).Value(), 5);
  // A new PeerConnection on the handle starts from zero again.
  feed(hangup("Close PC"));
  feed(webrtcup());
  feed(media(3, stats_entry("audio", 0, 0, 2, 0, 0, 1, 0, 0)));
  EXPECT_EQ(m().lost_packets(kAudio, kIn).Value(), 10);
}

TEST_F(AggregatorTest, StatsForAnUnknownHandleFeedTheHistogramsOnly) {
  feed(media(3, stats_entry("audio", 0, 20, 5, 2, 3, 4, 1, 1), 12345));
  EXPECT_EQ(m().lost_packets(kAudio, kIn).Value(), 0);
  EXPECT_EQ(m().rtt(kAudio).Collect().histogram.sample_count, 1u);
}

TEST_F(AggregatorTest, RttAndJitterHistograms) {
  attach_and_connect();
  feed(media(3, stats_entry("audio", 0, 0, 0, 0, 0, 1, 0, 0)));        // rtt not measured yet
  feed(media(3, stats_entry("audio", 0, 42, 0, 0, 3, 12, 0, 0)));      // 42 ms, 3 ms, 12 ms
  feed(media(3, stats_entry("video", 1, 7, 0, 0, 0, 0, 0, 0, 0)));     // no packets either way
  feed(media(3, stats_entry("video-sim1", 1, 9, 0, 0, 25, 0, 0, 0)));  // substream: no rtt
  feed(media(3, R"({"mid":"2","mindex":2,"media":"data","packets-received":8,)"
                R"("packets-sent":7,"bytes-received":1492,"bytes-sent":1945})"));

  const auto rtt_audio = m().rtt(kAudio).Collect().histogram;
  EXPECT_EQ(rtt_audio.sample_count, 1u);
  EXPECT_DOUBLE_EQ(rtt_audio.sample_sum, 0.042);
  const auto rtt_video = m().rtt(kVideo).Collect().histogram;
  EXPECT_EQ(rtt_video.sample_count, 1u);
  EXPECT_DOUBLE_EQ(rtt_video.sample_sum, 0.007);

  const auto jitter_in = m().jitter(kAudio, kIn).Collect().histogram;
  EXPECT_EQ(jitter_in.sample_count, 2u);
  EXPECT_DOUBLE_EQ(jitter_in.sample_sum, 0.003);
  const auto jitter_out = m().jitter(kAudio, kOut).Collect().histogram;
  EXPECT_EQ(jitter_out.sample_count, 2u);
  EXPECT_DOUBLE_EQ(jitter_out.sample_sum, 0.013);
  EXPECT_EQ(m().jitter(kVideo, kIn).Collect().histogram.sample_count, 1u);  // the substream
  EXPECT_EQ(m().unrecognized().Value(), 0);
}

TEST_F(AggregatorTest, CombinedMediaStatsArrays) {
  attach_and_connect();
  feed(media(3, "[" + stats_entry("audio", 0, 30, 4, 0, 1, 1, 0, 0) + "," +
                    stats_entry("video", 1, 30, 6, 0, 1, 1, 0, 2) + "]"));
  EXPECT_EQ(m().lost_packets(kAudio, kIn).Value(), 4);
  EXPECT_EQ(m().lost_packets(kVideo, kIn).Value(), 6);
  EXPECT_EQ(m().nacks(kVideo, 1).Value(), 2);
  EXPECT_EQ(m().rtt(kVideo).Collect().histogram.sample_count, 1u);
}

TEST_F(AggregatorTest, SlowLinksByMediaAndLink) {
  feed(media(2, R"({"mid":"1","media":"video","slow_link":"uplink","lost_lastsec":12})"));
  feed(media(2, R"({"mid":"0","media":"audio","slow_link":"downlink","lost_lastsec":5})"));
  feed(media(2, R"({"mid":"0","media":"audio","slow_link":"sideways","lost_lastsec":5})"));
  EXPECT_EQ(m().slow_links(kVideo, 0).Value(), 1);
  EXPECT_EQ(m().slow_links(kAudio, 1).Value(), 1);
  EXPECT_EQ(m().unrecognized().Value(), 1);
}

TEST_F(AggregatorTest, CoreStatusUpdatesAreAuthoritativeForTheGauges) {
  // Janus >= 1.2 only (1.1.2 never sends it): janus.c janus_status_sessions().
  feed(session_event(kSession, "created", kTransport));
  attach_and_connect();
  feed(event_head(256, 1) + R"(,"event":{"status":"update","info":{"sessions":5,"handles":7,)"
                            R"("peerconnections":3,"stats-period":5}}})");
  EXPECT_EQ(m().sessions().Value(), 5);
  EXPECT_EQ(m().handles().Value(), 7);
  EXPECT_EQ(m().peerconnections().Value(), 3);
  // Events keep moving them until the next update.
  feed(hangup("Janus API"));
  feed(handle_event(kHandle, "detached", "janus.plugin.echotest"));
  feed(session_event(kSession, "destroyed"));
  EXPECT_EQ(m().sessions().Value(), 4);
  EXPECT_EQ(m().handles().Value(), 6);
  EXPECT_EQ(m().peerconnections().Value(), 2);
  feed(event_head(256, 1) + R"(,"event":{"status":"update","info":{"sessions":0}}})");
  EXPECT_EQ(m().unrecognized().Value(), 1);
  EXPECT_EQ(m().sessions().Value(), 4);
}

TEST_F(AggregatorTest, ForgedHugeStatusCountsSaturateInsteadOfOverflowing) {
  // Found by fuzz/event_aggregator_fuzzer (fuzz/findings/event_aggregator-gauge-overflow-*):
  // INT64_MAX counts, then an attach (+1) and a summary (double -> integer cast).
  feed(event_head(256, 1) + R"(,"event":{"status":"update","info":{"sessions":9223372036854775807,)"
                            R"("handles":9223372036854775807,"peerconnections":-5}}})");
  feed(session_event(kSession, "created", kTransport));
  feed(handle_event(kHandle, "attached", "janus.plugin.echotest"));
  constexpr double kMax = 9007199254740992.0;  // 2^53
  EXPECT_EQ(m().sessions().Value(), kMax);
  EXPECT_EQ(m().handles().Value(), kMax);
  EXPECT_EQ(m().peerconnections().Value(), 0);
  JsonPtr summary = aggregator_->handle_request(nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(summary.get(), "handles")), json_int_t{1} << 53);
}

TEST_F(AggregatorTest, EventsByTypeAndUnrecognizedShapes) {
  feed(event_head(8, 0) + R"(,"session_id":1,"handle_id":2,"event":{"owner":"remote",)"
                          R"("jsep":{"type":"offer","sdp":"v=0"}}})");
  feed(event_head(64, 0) + R"(,"event":{"plugin":"janus.plugin.echotest","data":{}}})");
  feed(event_head(4, 0) + R"(,"event":{"schema":"x","data":{}}})");
  feed(event_head(512, 0) + R"(,"event":{}})");
  feed(R"({"timestamp":1})");                                  // no type
  feed(event_head(1, 0) + R"(,"session_id":1,"event":{}})");   // no name
  feed(event_head(1, 0) + R"(,"event":{"name":"created"}})");  // no session_id
  feed(event_head(1, 0) + R"(,"session_id":1,"event":{"name":"claimed"}})");
  feed(event_head(2, 0) + R"(,"session_id":1,"event":{"name":"attached"}})");  // no handle_id
  feed(webrtc(9, "{}"));
  feed(webrtc(6, R"({"connection":"sideways"})"));
  feed(media(7, "{}"));
  feed(media(3, R"({"mindex":0})"));
  feed(event_head(128, 0) + R"(,"event":{"transport":"x"}})");
  feed(event_head(256, 3) + R"(,"event":{"status":"started"}})");
  feed("[1,2,3]");
  EXPECT_EQ(m().events(event_type_index(kTypeJsep)).Value(), 1);
  EXPECT_EQ(m().events(event_type_index(kTypePlugin)).Value(), 1);
  EXPECT_EQ(m().events(event_type_index(kTypeExternal)).Value(), 1);
  EXPECT_EQ(m().events(CoreMetrics::kOtherType).Value(), 3);
  EXPECT_EQ(m().events(event_type_index(kTypeSession)).Value(), 3);
  EXPECT_EQ(m().unrecognized().Value(), 13);
  EXPECT_EQ(m().sessions().Value(), 0);
  EXPECT_EQ(m().handles().Value(), 0);
}

TEST_F(AggregatorTest, AdminSummary) {
  feed(started(0));
  feed(session_event(kSession, "created", kTransport));
  attach_and_connect();
  JsonPtr summary = aggregator_->handle_request(nullptr);
  const std::string text = dump(summary.get());
  EXPECT_EQ(json_integer_value(json_object_get(summary.get(), "sessions")), 1) << text;
  EXPECT_EQ(json_integer_value(json_object_get(summary.get(), "handles")), 1);
  EXPECT_EQ(json_integer_value(json_object_get(summary.get(), "peerconnections")), 1);
  EXPECT_TRUE(json_is_true(json_object_get(summary.get(), "enabled")));
  EXPECT_STREQ(json_string_value(json_object_get(summary.get(), "events_mask")),
               "sessions,handles,jsep,webrtc,media,transports,core");
  const json_t* ice = json_object_get(summary.get(), "ice_state_transitions");
  EXPECT_EQ(json_integer_value(json_object_get(ice, "ready")), 1);
  const json_t* dtls = json_object_get(summary.get(), "dtls_state_transitions");
  EXPECT_EQ(json_integer_value(json_object_get(dtls, "connected")), 1);
  const json_t* pairs = json_object_get(summary.get(), "selected_pairs");
  EXPECT_EQ(json_object_size(pairs), 1u) << text;
  EXPECT_EQ(json_integer_value(json_object_get(pairs, "host/host/udp")), 1);
  const json_t* attached = json_object_get(summary.get(), "handles_attached");
  EXPECT_EQ(json_integer_value(json_object_get(attached, "janus.plugin.echotest")), 1);
  EXPECT_EQ(json_integer_value(json_object_get(attached, "other")), 0);
  const json_t* tracked = json_object_get(summary.get(), "tracked");
  EXPECT_EQ(json_integer_value(json_object_get(tracked, "sessions")), 1);
  EXPECT_EQ(json_integer_value(json_object_get(tracked, "handles")), 1);
  EXPECT_EQ(json_integer_value(json_object_get(summary.get(), "events_unrecognized")), 0);

  JsonPtr request = adopt(json_pack("{s:s}", "request", "summary"));
  EXPECT_EQ(dump(aggregator_->handle_request(request.get()).get()), text);
  JsonPtr empty = adopt(json_object());
  EXPECT_EQ(dump(aggregator_->handle_request(empty.get()).get()), text);
  JsonPtr other = adopt(json_pack("{s:s}", "request", "reset"));
  JsonPtr error = aggregator_->handle_request(other.get());
  EXPECT_NE(json_object_get(error.get(), "error"), nullptr) << dump(error.get());
}

TEST_F(AggregatorTest, FamiliesLeaveTheRegistryWithTheAggregator) {
  EXPECT_FALSE(registry_.Collect().empty());
  aggregator_.reset();
  EXPECT_TRUE(registry_.Collect().empty());
  make(EventHandlerConfig{});  // and can be registered again
  EXPECT_EQ(registry_.Collect().size(), 20u);
}

// The core's events thread consumes while the admin thread asks for summaries and a scrape
// collects the registry: what the ThreadSanitizer build checks.
TEST_F(AggregatorTest, SummariesAndScrapesWhileEventsArrive) {
  std::atomic<bool> done{false};
  std::thread reader([&] {
    std::size_t rounds = 0;
    while (!done.load() || rounds < 10) {
      JsonPtr summary = aggregator_->summary();
      EXPECT_NE(summary, nullptr);
      EXPECT_FALSE(registry_.Collect().empty());
      ++rounds;
    }
  });
  for (std::uint64_t i = 1; i <= 200; ++i) {
    feed(session_event(i, "created", kTransport + i % 3));
    attach_and_connect(1000 + i, "janus.plugin.p" + std::to_string(i % 20));
    feed(media(3, stats_entry("audio", 0, 5, 1, 1, 1, 1, 1, 1), 1000 + i));
    feed(hangup("Janus API", 1000 + i));
    feed(handle_event(1000 + i, "detached", "", i));
  }
  for (std::uint64_t t = 0; t < 3; ++t) feed(transport_event(kTransport + t, "disconnected"));
  done.store(true);
  reader.join();
  EXPECT_EQ(m().sessions().Value(), 0);
  EXPECT_EQ(m().sessions_destroyed(SessionEnd::kTransportGone).Value(), 200);
  EXPECT_EQ(m().handles().Value(), 0);
  EXPECT_EQ(m().plugins().size(), 17u);  // "other" + 16 plugins
  EXPECT_EQ(m().lost_packets(kAudio, kIn).Value(), 200);
}

}  // namespace
}  // namespace jmedia::events
