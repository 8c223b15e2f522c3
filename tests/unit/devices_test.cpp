// Publish and watch through MediaPlugin against a fake core: the device lifecycle, the
// relay to viewers with continuity across publishers, limits, drain, kick and queries.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "../../common/json.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using testing::code;
using testing::jsep;
using testing::parse;
using testing::PluginTest;
using testing::PushedEvent;
using testing::str;

// Holds every push_event to the handles it blocks until release() (at most 10 s), so that a
// test can tell whether a thread of the plugin waits for those pushes.
class PushGate {
 public:
  void block(std::vector<janus_plugin_session*> handles) {
    std::lock_guard lock(mutex_);
    blocked_ = std::move(handles);
    open_ = false;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  void pass(janus_plugin_session* handle) {
    std::unique_lock lock(mutex_);
    if (open_ || std::find(blocked_.begin(), blocked_.end(), handle) == blocked_.end()) return;
    ++held_;
    opened_.wait_for(lock, std::chrono::seconds(10), [this] { return open_; });
  }
  // Pushes held so far.
  int held() {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  std::vector<janus_plugin_session*> blocked_;
  bool open_ = true;
  int held_ = 0;
};

class DevicesTest : public PluginTest {
 protected:
  void SetUp() override {
    host.before_push = [this](janus_plugin_session* handle) { push_gate.pass(handle); };
    make_plugin({});
  }
  // The plugin goes first: its threads push through push_gate.
  void TearDown() override {
    push_gate.release();
    plugin.reset();
  }
  void make_plugin(PluginConfig config) {
    plugin.reset();
    plugin = std::make_unique<MediaPlugin>(host, sdp, config);
  }

  // The event with transaction tx, if it came within timeout_ms.
  std::optional<PushedEvent> answer(const std::string& tx, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& e : host.events()) {
        if (e.transaction == tx) return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::nullopt;
  }
  // Waits (bounded) until the gate holds n pushes; returns how many it holds.
  int held(int n) {
    for (int i = 0; i < 5000 && push_gate.held() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return push_gate.held();
  }
  // The n-th event (from 1) of a handle with result `result`, once it came (bounded).
  PushedEvent nth_event(janus_plugin_session* handle, const std::string& result, std::size_t n) {
    for (int i = 0; i < 5000; ++i) {
      std::size_t seen = 0;
      for (const auto& e : host.events_for(handle)) {
        if (str(e.event, "result") == result && ++seen == n) return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "no event #" << n << " with result " << result;
    return {};
  }
  // The results pushed to handle after (not including) its first event with result `from`.
  std::vector<std::string> results_after(janus_plugin_session* handle, const std::string& from) {
    std::vector<std::string> results;
    bool seen = false;
    for (const auto& e : host.events_for(handle)) {
      const std::string result = str(e.event, "result");
      if (seen) results.push_back(result);
      seen = seen || result == from;
    }
    return results;
  }
  // The newest event of a handle once its result is `result` (events to other handles, such
  // as viewers told of a new publisher, are pushed after the request's own answer).
  PushedEvent last_event(janus_plugin_session* handle, const std::string& result) {
    for (int i = 0; i < 5000; ++i) {
      auto events = host.events_for(handle);
      if (!events.empty() && str(events.back().event, "result") == result) return events.back();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto events = host.events_for(handle);
    return events.empty() ? PushedEvent{} : events.back();
  }
  janus_plugin_session* publisher(const std::string& device) {
    janus_plugin_session* handle = attach();
    auto e =
        request(handle, R"({"request":"publish","device_id":")" + device + R"("})", jsep("offer"));
    EXPECT_EQ(str(e.event, "result"), "publishing") << e.event;
    plugin->setup_media(handle);
    return handle;
  }
  janus_plugin_session* viewer(const std::string& device) {
    janus_plugin_session* handle = attach();
    auto offer = request(handle, R"({"request":"watch","device_id":")" + device + R"("})");
    EXPECT_EQ(str(offer.event, "result"), "offer") << offer.event;
    EXPECT_EQ(str(offer.jsep, "type"), "offer");
    auto started = request(handle, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
    EXPECT_EQ(str(started.event, "result"), "watching") << started.event;
    plugin->setup_media(handle);
    return handle;
  }
  void send_rtp(janus_plugin_session* from, bool video, std::uint16_t seq, std::uint32_t ts,
                std::uint32_t ssrc, int payload_type = 96) {
    std::array<char, 20> bytes{};
    bytes[0] = static_cast<char>(0x80);
    bytes[1] = static_cast<char>(payload_type);
    bytes[2] = static_cast<char>(seq >> 8);
    bytes[3] = static_cast<char>(seq & 0xff);
    for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<char>(ts >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
    const auto original = bytes;
    janus_plugin_rtp packet{};
    packet.mindex = video ? 1 : 0;
    packet.video = video;
    packet.buffer = bytes.data();
    packet.length = bytes.size();
    plugin->incoming_rtp(from, &packet);
    EXPECT_EQ(bytes, original) << "the publisher's packet must be left intact";
    EXPECT_EQ(packet.mindex, video ? 1 : 0);
  }

  // cam1's publisher hangs up while its viewer v is held at the push of publisher_left (by
  // the notifier), and a publisher with other codecs (h264) takes cam1 meanwhile.
  struct CodecChange {
    std::array<janus_plugin_session*, 3> handles{};  // the first publisher, v, the second
    std::future<void> hangup;                        // the first publisher's hangup_media
  };
  void change_codecs_while_v_is_held(CodecChange& out) {
    janus_plugin_session* cam = publisher("cam1");
    janus_plugin_session* v = viewer("cam1");
    out.handles = {cam, v, nullptr};
    push_gate.block({v});
    out.hangup = std::async(std::launch::async, [this, cam] { plugin->hangup_media(cam); });
    ASSERT_EQ(held(1), 1);  // the notifier, pushing publisher_left
    sdp.video_codec = "h264";
    out.handles[2] = publisher("cam1");
  }

  PushGate push_gate;
};

TEST_F(DevicesTest, PublishAnswersAndASecondPublisherIsRefused) {
  janus_plugin_session* cam = attach();
  auto e = request(cam, R"({"request":"publish","device_id":"cam1"})", jsep("offer"));
  EXPECT_EQ(str(e.event, "result"), "publishing");
  EXPECT_EQ(str(e.event, "device_id"), "cam1");
  EXPECT_EQ(str(e.event, "media_session").size(), 16u);
  EXPECT_EQ(str(e.jsep, "type"), "answer");
  janus_plugin_session* other = attach();
  auto busy = request(other, R"({"request":"publish","device_id":"cam1"})", jsep("offer"));
  EXPECT_EQ(code(busy.event), numeric(ErrorCode::kDeviceBusy));
  auto twice = request(cam, R"({"request":"publish","device_id":"cam1"})", jsep("offer"));
  EXPECT_EQ(code(twice.event), numeric(ErrorCode::kWrongState));
  EXPECT_EQ(plugin->sessions().active(), 1u);
  detach(cam);
  detach(other);
  EXPECT_EQ(plugin->devices().size(), 0u);
}

TEST_F(DevicesTest, WatchNeedsAPublisherAndStartNeedsAWatch) {
  janus_plugin_session* v = attach();
  auto none = request(v, R"({"request":"watch","device_id":"ghost"})");
  EXPECT_EQ(code(none.event), numeric(ErrorCode::kNoSuchDevice));
  auto early = request(v, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
  EXPECT_EQ(code(early.event), numeric(ErrorCode::kWrongState));
  EXPECT_EQ(plugin->sessions().active(), 0u);
  detach(v);
}

TEST_F(DevicesTest, PublisherMediaReachesStartedViewersOnly) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v1 = viewer("cam1");
  janus_plugin_session* v2 = viewer("cam1");
  janus_plugin_session* pending = attach();
  request(pending, R"({"request":"watch","device_id":"cam1"})");  // no start yet
  // Each viewer's start and WebRTC-up asked the publisher for a keyframe.
  auto plis = host.pli_targets();
  ASSERT_FALSE(plis.empty());
  for (auto* target : plis) EXPECT_EQ(target, cam);
  send_rtp(cam, true, 1000, 90000, 0x5555);
  send_rtp(cam, false, 2000, 48000, 0x6666);
  EXPECT_EQ(host.relayed_to(v1).size(), 2u);
  EXPECT_EQ(host.relayed_to(v2).size(), 2u);
  EXPECT_EQ(host.relayed_to(pending).size(), 0u);
  EXPECT_EQ(host.relayed_to(cam).size(), 0u);
  // Each viewer gets its own SSRC, not the publisher's.
  auto r1 = host.relayed_to(v1);
  auto r2 = host.relayed_to(v2);
  EXPECT_NE(r1[0].ssrc, 0x5555u);
  EXPECT_NE(r1[0].ssrc, r2[0].ssrc);
  // A viewer pauses video: it keeps receiving audio only.
  auto configured = request(v1, R"({"request":"configure","video":false})");
  EXPECT_EQ(str(configured.event, "result"), "configured");
  send_rtp(cam, true, 1001, 93000, 0x5555);
  send_rtp(cam, false, 2001, 48960, 0x6666);
  EXPECT_EQ(host.relayed_to(v1).size(), 3u);
  EXPECT_EQ(host.relayed_to(v2).size(), 4u);
  auto listed = sync(cam, R"({"request":"list","device_id":"cam1"})");
  EXPECT_EQ(json_array_size(json_object_get(listed.get(), "sessions")), 4u);
  auto devices = sync(cam, R"({"request":"devices"})");
  const json_t* first = json_array_get(json_object_get(devices.get(), "devices"), 0);
  EXPECT_STREQ(json_string_value(json_object_get(first, "device_id")), "cam1");
  EXPECT_TRUE(json_is_true(json_object_get(first, "publishing")));
  EXPECT_EQ(json_integer_value(json_object_get(first, "viewers")), 3);
  for (auto* h : {v1, v2, pending, cam}) detach(h);
  EXPECT_EQ(plugin->devices().size(), 0u);
  EXPECT_EQ(plugin->sessions().active(), 0u);
}

TEST_F(DevicesTest, RelayCountersCountEveryViewerCopy) {
  PluginConfig config;
  config.max_device_series = 4;
  make_plugin(config);
  janus_plugin_session* cam = publisher("cam1");
  std::vector<janus_plugin_session*> viewers = {viewer("cam1"), viewer("cam1"), viewer("cam1")};
  auto configured = request(viewers[0], R"({"request":"configure","video":false})");
  EXPECT_EQ(str(configured.event, "result"), "configured");
  send_rtp(cam, true, 1000, 90000, 0x5555);
  send_rtp(cam, true, 1001, 93000, 0x5555);
  send_rtp(cam, false, 2000, 48000, 0x6666);
  auto values = testing::flatten(plugin->metrics()->Collect());
  // Video to two viewers (one paused it), audio to three; 20-byte packets.
  EXPECT_EQ(values["janus_media_rtp_relayed_packets_total{kind=video}"], 4);
  EXPECT_EQ(values["janus_media_rtp_relayed_bytes_total{kind=video}"], 80);
  EXPECT_EQ(values["janus_media_rtp_relayed_packets_total{kind=audio}"], 3);
  EXPECT_EQ(values["janus_media_rtp_relayed_bytes_total{kind=audio}"], 60);
  EXPECT_EQ(values["janus_media_device_relayed_packets_total{device=cam1}"], 7);
  EXPECT_EQ(values["janus_media_device_relayed_bytes_total{device=cam1}"], 140);
  for (auto* v : viewers) detach(v);
  detach(cam);
}

TEST_F(DevicesTest, ViewersSurviveAPublisherChangeWithContinuousStreams) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  for (std::uint16_t i = 0; i < 5; ++i) send_rtp(cam, true, 100 + i, 3000u * i, 0xAAAA);
  plugin->hangup_media(cam);
  auto left = last_event(v, "publisher_left");
  EXPECT_EQ(str(left.event, "result"), "publisher_left");
  EXPECT_EQ(str(left.event, "device_id"), "cam1");
  EXPECT_EQ(plugin->devices().size(), 1u) << "the viewer keeps the device";
  send_rtp(cam, true, 105, 15000, 0xAAAA);  // the old publisher no longer relays
  EXPECT_EQ(host.relayed_to(v).size(), 5u);
  janus_plugin_session* cam2 = publisher("cam1");
  auto joined = last_event(v, "publisher_joined");
  EXPECT_EQ(str(joined.event, "result"), "publisher_joined") << joined.event;
  send_rtp(cam2, true, 40000, 777777, 0xBBBB);
  auto relayed = host.relayed_to(v);
  ASSERT_EQ(relayed.size(), 6u);
  EXPECT_EQ(relayed[5].ssrc, relayed[4].ssrc);
  EXPECT_EQ(relayed[5].seq, static_cast<std::uint16_t>(relayed[4].seq + 1));
  EXPECT_EQ(relayed[5].timestamp, relayed[4].timestamp + 3000);
  for (auto* h : {v, cam, cam2}) detach(h);
}

TEST_F(DevicesTest, APublisherNumberingTheSameCodecsDifferentlyIsRewritten) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  send_rtp(cam, true, 1, 1, 0xAAAA);
  plugin->hangup_media(cam);
  sdp.video_payload_type = 120;  // same VP8, another number
  janus_plugin_session* cam2 = publisher("cam1");
  EXPECT_EQ(str(last_event(v, "publisher_joined").event, "result"), "publisher_joined");
  send_rtp(cam2, true, 500, 9000, 0xBBBB, 120);
  auto relayed = host.relayed_to(v);
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_EQ(relayed[0].payload_type, 96);
  EXPECT_EQ(relayed[1].payload_type, 96) << "the viewer negotiated 96";
  for (auto* h : {v, cam, cam2}) detach(h);
}

TEST_F(DevicesTest, EveryViewerGetsAKeyframeWhenItsMediaComesUp) {
  janus_plugin_session* cam = publisher("cam1");
  const int before = host.plis.load();
  janus_plugin_session* v1 = viewer("cam1");
  janus_plugin_session* v2 = viewer("cam1");  // right after: no throttling for new viewers
  EXPECT_EQ(host.plis.load() - before, 2);
  for (auto* target : host.pli_targets()) EXPECT_EQ(target, cam);
  // Viewers' own PLIs are throttled: a burst reaches the publisher once.
  std::array<char, 12> rtcp{};
  janus_plugin_rtcp packet{};
  packet.video = TRUE;
  packet.buffer = rtcp.data();
  packet.length = rtcp.size();
  host.keyframe_rtcp = true;
  for (int i = 0; i < 5; ++i) plugin->incoming_rtcp(v1, &packet);
  EXPECT_LE(host.plis.load() - before, 3);
  for (auto* h : {v1, v2, cam}) detach(h);
}

TEST_F(DevicesTest, APublisherWithOtherCodecsSendsViewersANewOffer) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  plugin->hangup_media(cam);
  sdp.video_codec = "h264";
  janus_plugin_session* cam2 = publisher("cam1");
  auto offer = last_event(v, "offer");
  EXPECT_EQ(str(offer.event, "result"), "offer") << offer.event;
  EXPECT_EQ(str(offer.jsep, "type"), "offer");
  send_rtp(cam2, true, 1, 1, 0xCCCC);
  EXPECT_EQ(host.relayed_to(v).size(), 0u) << "no media until the viewer answers";
  auto restarted = request(v, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
  EXPECT_EQ(str(restarted.event, "result"), "watching");
  send_rtp(cam2, true, 2, 3001, 0xCCCC);
  EXPECT_EQ(host.relayed_to(v).size(), 1u);
  for (auto* h : {v, cam, cam2}) detach(h);
}

TEST_F(DevicesTest, APublisherRenegotiatingToAnotherCodecSendsViewersANewOffer) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  send_rtp(cam, true, 1, 1, 0xAAAA);
  ASSERT_EQ(host.relayed_to(v).size(), 1u);
  EXPECT_EQ(host.relayed_to(v)[0].payload_type, 96);
  // The publisher re-offers with H.264 (a configure with a JSEP offer).
  sdp.video_codec = "h264";
  sdp.video_payload_type = 102;
  auto configured = request(cam, R"({"request":"configure"})", jsep("offer"));
  EXPECT_EQ(str(configured.event, "result"), "configured") << configured.event;
  EXPECT_EQ(str(configured.jsep, "type"), "answer");
  // The viewer gets the event a new publisher with other codecs would give it.
  auto offer = last_event(v, "offer");
  EXPECT_EQ(str(offer.event, "result"), "offer") << offer.event;
  EXPECT_EQ(str(offer.event, "device_id"), "cam1");
  EXPECT_EQ(str(offer.event, "media_session"),
            str(host.events_for(v).front().event, "media_session"));
  EXPECT_EQ(str(offer.jsep, "type"), "offer");
  EXPECT_NE(str(offer.jsep, "sdp").find("h264"), std::string::npos) << offer.jsep;
  send_rtp(cam, true, 2, 3001, 0xAAAA, 102);
  EXPECT_EQ(host.relayed_to(v).size(), 1u) << "no H.264 under the viewer's VP8 mapping";
  auto restarted = request(v, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
  EXPECT_EQ(str(restarted.event, "result"), "watching") << restarted.event;
  send_rtp(cam, true, 3, 6001, 0xAAAA, 102);
  auto relayed = host.relayed_to(v);
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_EQ(relayed[1].payload_type, 102) << "the payload type of the new offer";
  EXPECT_EQ(relayed[1].ssrc, relayed[0].ssrc);
  // A viewer that comes later is offered the new codec.
  janus_plugin_session* late = attach();
  auto late_offer = request(late, R"({"request":"watch","device_id":"cam1"})");
  EXPECT_NE(str(late_offer.jsep, "sdp").find("h264"), std::string::npos) << late_offer.jsep;
  for (auto* h : {v, late, cam}) detach(h);
}

TEST_F(DevicesTest, APublisherRenegotiatingTheSameCodecsKeepsItsViewersGoing) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  // Same VP8, renumbered: the rewriter keeps the viewer's 96, nothing to renegotiate.
  sdp.video_payload_type = 120;
  auto same = request(cam, R"({"request":"configure"})", jsep("offer"));
  EXPECT_EQ(str(same.event, "result"), "configured") << same.event;
  send_rtp(cam, true, 1, 1, 0xAAAA, 120);
  auto relayed = host.relayed_to(v);
  ASSERT_EQ(relayed.size(), 1u);
  EXPECT_EQ(relayed[0].payload_type, 96);
  // A later renegotiation to another codec does reach the viewer: its first event after
  // "watching" is that offer, so the renumbering above told it nothing.
  sdp.video_codec = "vp9";
  request(cam, R"({"request":"configure"})", jsep("offer"));
  EXPECT_EQ(str(last_event(v, "offer").event, "result"), "offer");
  std::vector<std::string> results;
  for (const auto& e : host.events_for(v)) results.push_back(str(e.event, "result"));
  EXPECT_EQ(results, (std::vector<std::string>{"offer", "watching", "offer"}));
  for (auto* h : {v, cam}) detach(h);
}

TEST_F(DevicesTest, MaxViewersPerDeviceAndLiveLimits) {
  PluginConfig config;
  config.max_viewers_per_device = 1;
  make_plugin(config);
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v1 = viewer("cam1");
  janus_plugin_session* v2 = attach();
  auto refused = request(v2, R"({"request":"watch","device_id":"cam1"})");
  EXPECT_EQ(code(refused.event), numeric(ErrorCode::kTooManyViewers));
  auto limits = admin(R"({"request":"limits","max_viewers_per_device":2})");
  EXPECT_EQ(json_integer_value(json_object_get(limits.get(), "max_viewers_per_device")), 2);
  auto accepted = request(v2, R"({"request":"watch","device_id":"cam1"})");
  EXPECT_EQ(str(accepted.event, "result"), "offer");
  auto current = admin(R"({"request":"limits"})");
  EXPECT_EQ(json_integer_value(json_object_get(current.get(), "max_sessions")), 10000);
  EXPECT_EQ(json_integer_value(json_object_get(current.get(), "queue_size")), 256);
  for (auto* h : {v1, v2, cam}) detach(h);
}

TEST_F(DevicesTest, DrainRefusesNewSessionsAndKeepsExistingOnes) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  auto on = admin(R"({"request":"drain","enabled":true})");
  EXPECT_TRUE(json_is_true(json_object_get(on.get(), "enabled")));
  EXPECT_TRUE(plugin->draining());
  janus_plugin_session* late = attach();
  EXPECT_EQ(code(request(late, R"({"request":"watch","device_id":"cam1"})").event),
            numeric(ErrorCode::kDraining));
  EXPECT_EQ(code(request(late, R"({"request":"publish","device_id":"cam2"})", jsep("offer")).event),
            numeric(ErrorCode::kDraining));
  EXPECT_EQ(code(request(late, R"({"request":"echo"})", jsep("offer")).event),
            numeric(ErrorCode::kDraining));
  send_rtp(cam, true, 1, 1, 1);
  EXPECT_EQ(host.relayed_to(v).size(), 1u);
  admin(R"({"request":"drain","enabled":false})");
  EXPECT_EQ(str(request(late, R"({"request":"watch","device_id":"cam1"})").event, "result"),
            "offer");
  for (auto* h : {v, late, cam}) detach(h);
}

TEST_F(DevicesTest, KickByDeviceEndsPublisherAndViewers) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  auto reply = admin(R"({"request":"kick","device_id":"cam1"})");
  EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "kicked")), 2);
  EXPECT_EQ(host.closed_pcs.load(), 2);
  for (auto* h : {cam, v}) {
    bool kicked = false;
    for (const auto& e : host.events_for(h)) kicked |= str(e.event, "result") == "kicked";
    EXPECT_TRUE(kicked);
  }
  // The core then reports each PeerConnection gone.
  plugin->hangup_media(v);
  plugin->hangup_media(cam);
  EXPECT_EQ(str(host.events_for(cam).back().event, "reason"), "kicked");
  EXPECT_EQ(plugin->sessions().active(), 0u);
  EXPECT_EQ(plugin->devices().size(), 0u);
  auto missing = admin(R"({"request":"kick","media_session":"ffffffffffffffff"})");
  EXPECT_EQ(json_integer_value(json_object_get(missing.get(), "error_code")),
            numeric(ErrorCode::kSessionNotFound));
  for (auto* h : {v, cam}) detach(h);
}

TEST_F(DevicesTest, KickForTooManyCandidatesTellsTheClientWhy) {
  janus_plugin_session* cam = publisher("cam1");
  const std::string id = str(host.events_for(cam).front().event, "media_session");
  auto reply =
      admin(R"({"request":"kick","media_session":")" + id + R"(","reason":"too_many_candidates"})");
  EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "kicked")), 1);
  auto events = host.events_for(cam);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(code(events[events.size() - 2].event), numeric(ErrorCode::kTooManyCandidates));
  EXPECT_EQ(str(events.back().event, "result"), "kicked");
  auto bad = admin(R"({"request":"kick","media_session":")" + id + R"(","reason":"boredom"})");
  EXPECT_EQ(json_integer_value(json_object_get(bad.get(), "error_code")),
            numeric(ErrorCode::kInvalidField));
  detach(cam);
}

TEST_F(DevicesTest, InfoAndRoleFilteredListing) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  JsonPtr viewers = admin(R"({"request":"list","role":"viewer"})");
  const json_t* sessions = json_object_get(viewers.get(), "sessions");
  ASSERT_EQ(json_array_size(sessions), 1u);
  const std::string id =
      json_string_value(json_object_get(json_array_get(sessions, 0), "media_session"));
  EXPECT_TRUE(json_is_null(json_object_get(viewers.get(), "next_cursor")));
  JsonPtr info = sync(cam, R"({"request":"info","media_session":")" + id + R"("})");
  const json_t* session = json_object_get(info.get(), "session");
  EXPECT_STREQ(json_string_value(json_object_get(session, "role")), "viewer");
  EXPECT_STREQ(json_string_value(json_object_get(session, "device_id")), "cam1");
  EXPECT_STREQ(json_string_value(json_object_get(session, "state")), "up");
  JsonPtr one = admin(R"({"request":"list","limit":1})");
  EXPECT_TRUE(json_is_string(json_object_get(one.get(), "next_cursor")));
  for (auto* h : {v, cam}) detach(h);
}

std::vector<std::string> keys_of(const json_t* object) {
  std::vector<std::string> keys;
  const char* key = nullptr;
  const json_t* value = nullptr;
  json_object_foreach(const_cast<json_t*>(object), key, value) keys.emplace_back(key);
  return keys;
}

TEST_F(DevicesTest, ListGivesSummariesUnlessDetailIsAskedAndInfoTheWholeSession) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = viewer("cam1");
  janus_plugin_session* idle = attach();
  const std::vector<std::string> summary = {"media_session", "device_id", "role", "state"};
  const std::vector<std::string> full = {
      "media_session", "device_id", "role",       "state",    "created_at",  "up_at",    "audio",
      "video",         "data",      "packets_in", "bytes_in", "packets_out", "bytes_out"};
  for (const char* body : {R"({"request":"list"})", R"({"request":"list","detail":false})",
                           R"({"request":"list","device_id":"cam1"})"}) {
    std::array<JsonPtr, 2> pages{sync(idle, body), admin(body)};
    for (const JsonPtr& page : pages) {
      const json_t* sessions = json_object_get(page.get(), "sessions");
      ASSERT_GE(json_array_size(sessions), 2u) << body << " -> " << dump(page.get());
      for (std::size_t i = 0; i < json_array_size(sessions); ++i) {
        EXPECT_EQ(keys_of(json_array_get(sessions, i)), summary) << body;
      }
    }
  }
  // The summary of the viewer says who and what it is; detail and info add the rest.
  JsonPtr page = sync(idle, R"({"request":"list","role":"viewer"})");
  const json_t* brief = json_array_get(json_object_get(page.get(), "sessions"), 0);
  EXPECT_STREQ(json_string_value(json_object_get(brief, "device_id")), "cam1");
  EXPECT_STREQ(json_string_value(json_object_get(brief, "role")), "viewer");
  EXPECT_STREQ(json_string_value(json_object_get(brief, "state")), "up");
  const std::string id = json_string_value(json_object_get(brief, "media_session"));
  std::array<JsonPtr, 2> detailed_pages{
      sync(idle, R"({"request":"list","role":"viewer","detail":true})"),
      admin(R"({"request":"list","role":"viewer","detail":true})")};
  for (const JsonPtr& detailed : detailed_pages) {
    const json_t* whole = json_array_get(json_object_get(detailed.get(), "sessions"), 0);
    EXPECT_EQ(keys_of(whole), full) << dump(detailed.get());
    JsonPtr info = sync(idle, R"({"request":"info","media_session":")" + id + R"("})");
    const json_t* session = json_object_get(info.get(), "session");
    EXPECT_EQ(keys_of(session), full) << dump(info.get());
    EXPECT_TRUE(json_equal(whole, session)) << dump(whole) << " vs " << dump(session);
  }
  JsonPtr query = plugin->query_session(v);
  EXPECT_EQ(keys_of(query.get()), full) << dump(query.get());
  // An idle session: no device, no role.
  JsonPtr mine = sync(idle, R"({"request":"list","limit":1000})");
  bool found_idle = false;
  const json_t* all = json_object_get(mine.get(), "sessions");
  for (std::size_t i = 0; i < json_array_size(all); ++i) {
    const json_t* s = json_array_get(all, i);
    if (std::string(json_string_value(json_object_get(s, "role"))) != "none") continue;
    found_idle = true;
    EXPECT_TRUE(json_is_null(json_object_get(s, "device_id"))) << dump(s);
    EXPECT_STREQ(json_string_value(json_object_get(s, "state")), "idle");
  }
  EXPECT_TRUE(found_idle) << dump(mine.get());
  JsonPtr bad = sync(idle, R"({"request":"list","detail":"yes"})");
  EXPECT_EQ(json_integer_value(json_object_get(bad.get(), "error_code")),
            numeric(ErrorCode::kInvalidField))
      << dump(bad.get());
  for (auto* h : {idle, v, cam}) detach(h);
}

TEST_F(DevicesTest, PagesFollowTheServersOwnCursorsAndRefuseOthers) {
  std::vector<janus_plugin_session*> handles;
  for (const char* device : {"cam-a", "cam-b", "cam-c"}) handles.push_back(publisher(device));
  for (int i = 0; i < 2; ++i) handles.push_back(attach());
  // Every next_cursor the server hands out is accepted back, and the pages cover each
  // session (device) exactly once. walk: the `key` of each item of the `array` of every page
  // send(body) answers, body being `first` with the last page's cursor added.
  auto walk = [](const std::string& first, const auto& send, const char* array, const char* key) {
    std::vector<std::string> items;
    std::string cursor;
    for (int pages = 0; pages < 10; ++pages) {
      JsonPtr page = send(cursor.empty() ? first
                                         : first.substr(0, first.size() - 1) + R"(,"cursor":")" +
                                               cursor + R"("})");
      EXPECT_EQ(json_object_get(page.get(), "error_code"), nullptr) << dump(page.get());
      const json_t* found = json_object_get(page.get(), array);
      for (std::size_t i = 0; i < json_array_size(found); ++i) {
        items.emplace_back(json_string_value(json_object_get(json_array_get(found, i), key)));
      }
      const json_t* next = json_object_get(page.get(), "next_cursor");
      if (!json_is_string(next)) break;
      cursor = json_string_value(next);
    }
    return items;
  };
  const auto listed = walk(R"({"request":"list","limit":2})",
                           [&](const std::string& body) { return sync(handles[0], body); },
                           "sessions", "media_session");
  const std::set<std::string> sessions(listed.begin(), listed.end());
  EXPECT_EQ(sessions.size(), handles.size());
  const auto devices =
      walk(R"({"request":"devices","limit":1})",
           [&](const std::string& body) { return admin(body); }, "devices", "device_id");
  EXPECT_EQ(devices, (std::vector<std::string>{"cam-a", "cam-b", "cam-c"}));
  // A cursor the server could never have returned: 1004 in the sync reply, client and admin.
  for (const char* body : {R"({"request":"list","cursor":"%%%garbage%%%"})",
                           R"({"request":"list","device_id":"cam-a","cursor":"cam-a"})",
                           R"({"request":"devices","cursor":"%%%garbage%%%"})"}) {
    JsonPtr reply = sync(handles[0], body);
    EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "error_code")),
              numeric(ErrorCode::kInvalidField))
        << body << " -> " << dump(reply.get());
    reply = admin(body);
    EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "error_code")),
              numeric(ErrorCode::kInvalidField))
        << "admin " << body << " -> " << dump(reply.get());
  }
  for (auto* h : handles) detach(h);
}

TEST_F(DevicesTest, HangupBeforeWebRtcUpEndsTheRoleAtOnce) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v = attach();
  request(v, R"({"request":"watch","device_id":"cam1"})");
  auto hung = request(v, R"({"request":"hangup"})");
  EXPECT_EQ(str(hung.event, "result"), "hangingup");
  for (int i = 0; i < 5000 && str(host.events_for(v).back().event, "result") != "hangup"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(str(host.events_for(v).back().event, "result"), "hangup");
  EXPECT_EQ(plugin->sessions().active(), 1u);
  auto listed = admin(R"({"request":"devices"})");
  const json_t* first = json_array_get(json_object_get(listed.get(), "devices"), 0);
  EXPECT_EQ(json_integer_value(json_object_get(first, "viewers")), 0);
  for (auto* h : {v, cam}) detach(h);
}

// Issue 18: Janus 1.1.2 may lose a handle's detach (ice.c clears the loop queue at the first
// selected pair): stopped is set, destroy_session never comes. 10 s later the plugin calls it
// orphaned and frees what it owns for it.
TEST_F(DevicesTest, AStoppedHandleThatNeverGetsDestroySessionIsOrphanedAndFreed) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* watcher = viewer("cam1");
  janus_plugin_session* quick = attach();
  ASSERT_EQ(plugin->sessions().active(), 2u);
  ASSERT_EQ(plugin->devices().size(), 1u);

  const std::int64_t t0 = monotonic_ms_now();
  g_atomic_int_set(&cam->stopped, 1);    // the core detached it, its detach item was lost
  g_atomic_int_set(&quick->stopped, 1);  // stopped, and destroy_session comes in time
  EXPECT_EQ(plugin->sweep_orphans(t0), 0u);
  detach(quick);
  EXPECT_EQ(plugin->sweep_orphans(t0 + 9999), 0u);
  EXPECT_EQ(plugin->orphaned(), 0u);
  EXPECT_EQ(plugin->sweep_orphans(t0 + 10000), 1u);
  EXPECT_EQ(plugin->sweep_orphans(t0 + 20000), 0u);  // once
  EXPECT_EQ(plugin->orphaned(), 1u);
  // Everything the plugin owned for it is gone: session, slot, device membership, and the
  // reference the core took for us.
  EXPECT_EQ(plugin->query_session(cam), nullptr);
  EXPECT_EQ(plugin->sessions().size(), 1u);
  EXPECT_EQ(plugin->sessions().active(), 1u);  // the viewer's
  EXPECT_EQ(host.references(cam), 0);
  auto values = testing::flatten(plugin->metrics()->Collect());
  EXPECT_EQ(values["janus_media_orphaned_handles"], 1);
  EXPECT_EQ(values["janus_media_handles"], 1);
  // The core calling destroy_session after all (it was slow, not lost): no longer an orphan.
  detach(cam);
  EXPECT_EQ(plugin->orphaned(), 0u);
  detach(watcher);
  EXPECT_EQ(plugin->devices().size(), 0u);
}

TEST_F(DevicesTest, DetachWhileAPublishIsBeingAnsweredLeaksNothing) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<bool> first{true};
  sdp.before_answer = [&, gate] {
    if (first.exchange(false)) {
      entered.set_value();
      gate.wait_for(std::chrono::seconds(10));
    }
  };
  janus_plugin_session* cam = attach();
  plugin->handle_message(cam, "p", parse(R"({"request":"publish","device_id":"cam1"})"),
                         jsep("offer"));
  ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  detach(cam);  // while the worker is inside the SDP answer
  release.set_value();
  for (int i = 0; i < 5000 && (plugin->queue_depth() != 0 || host.references(cam) != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(plugin->sessions().active(), 0u);
  EXPECT_EQ(plugin->devices().size(), 0u);
  EXPECT_EQ(host.references(cam), 0);
}

// The viewers' events are pushed by the plugin's notifier thread: the publisher's loop thread
// (hangup_media) does not wait for them.
TEST_F(DevicesTest, APublisherLeavingDoesNotWaitForItsViewersEvents) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v1 = viewer("cam1");
  janus_plugin_session* v2 = viewer("cam1");
  push_gate.block({v1, v2});
  auto hangup = std::async(std::launch::async, [&] { plugin->hangup_media(cam); });
  const bool returned = hangup.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  push_gate.release();
  hangup.wait();
  EXPECT_TRUE(returned) << "hangup_media waited for the viewers' publisher_left";
  for (auto* v : {v1, v2}) {
    EXPECT_EQ(str(last_event(v, "publisher_left").event, "result"), "publisher_left");
  }
  for (auto* h : {v1, v2, cam}) detach(h);
}

// Nor does a worker wait for the offers a new publisher with other codecs sends the viewers:
// with one worker, the next request is answered while those pushes are held.
TEST_F(DevicesTest, ANewPublisherDoesNotHoldAWorkerForItsViewersOffers) {
  PluginConfig config;
  config.worker_threads = 1;
  make_plugin(config);
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v1 = viewer("cam1");
  janus_plugin_session* v2 = viewer("cam1");
  plugin->hangup_media(cam);
  for (auto* v : {v1, v2}) last_event(v, "publisher_left");
  sdp.video_codec = "h264";
  push_gate.block({v1, v2});
  janus_plugin_session* cam2 = attach();
  auto published = request(cam2, R"({"request":"publish","device_id":"cam1"})", jsep("offer"));
  EXPECT_EQ(str(published.event, "result"), "publishing");
  janus_plugin_session* other = attach();
  plugin->handle_message(other, "next", parse(R"({"request":"echo"})"), jsep("offer"));
  const auto next = answer("next", 2000);
  push_gate.release();
  ASSERT_TRUE(next.has_value()) << "the worker was still pushing the viewers' offers";
  EXPECT_EQ(str(next->event, "result"), "echoing");
  for (auto* v : {v1, v2}) {
    EXPECT_EQ(str(last_event(v, "offer").jsep, "type"), "offer");
  }
  for (auto* h : {v1, v2, cam, cam2, other}) detach(h);
}

// While the notifier is behind, a device's changes coalesce: the viewer learns that its
// publisher left, then gets one offer for the media of the publisher there now, in that
// order, and nothing for the publishers it never saw.
TEST_F(DevicesTest, AViewerHearsOfTheLeaveBeforeOneOfferForTheLatestPublisher) {
  janus_plugin_session* cam0 = publisher("cam0");
  janus_plugin_session* v0 = viewer("cam0");
  janus_plugin_session* cam1 = publisher("cam1");
  janus_plugin_session* v1 = viewer("cam1");
  push_gate.block({v0});  // holds the notifier on cam0's news
  auto hangup = std::async(std::launch::async, [&] { plugin->hangup_media(cam0); });
  ASSERT_EQ(held(1), 1);
  plugin->hangup_media(cam1);
  sdp.video_codec = "h264";
  janus_plugin_session* cam2 = publisher("cam1");
  plugin->hangup_media(cam2);
  sdp.video_codec = "vp9";
  janus_plugin_session* cam3 = publisher("cam1");
  push_gate.release();
  hangup.wait();
  const auto offer = last_event(v1, "offer");
  EXPECT_NE(str(offer.jsep, "sdp").find("vp9"), std::string::npos) << offer.jsep;
  // A later notification of another device proves the notifier went past cam1's.
  plugin->hangup_media(cam3);
  last_event(v1, "publisher_left");
  EXPECT_EQ(results_after(v1, "watching"),
            (std::vector<std::string>{"publisher_left", "offer", "publisher_left"}));
  for (auto* h : {v0, v1, cam0, cam1, cam2, cam3}) detach(h);
}

// A new publisher with other codecs: its media does not reach viewers that have not
// answered their new offer, however late the notifier pushes that offer.
TEST_F(DevicesTest, ViewersGetNoMediaOfOtherCodecsBeforeTheirOffer) {
  CodecChange change;
  ASSERT_NO_FATAL_FAILURE(change_codecs_while_v_is_held(change));
  auto [cam, v, cam2] = change.handles;
  auto& hangup = change.hangup;
  send_rtp(cam2, true, 1, 1, 0xCCCC);
  EXPECT_EQ(host.relayed_to(v).size(), 0u);
  push_gate.release();
  hangup.wait();
  EXPECT_EQ(str(nth_event(v, "offer", 2).jsep, "type"), "offer");
  for (auto* h : {v, cam, cam2}) detach(h);
}

// Nor when the viewer's answer to its earlier offer arrives after the codecs changed: that
// answer starts nothing; the answer to the new offer does.
TEST_F(DevicesTest, AnAnswerToTheOfferBeforeACodecChangeStartsNothing) {
  CodecChange change;
  ASSERT_NO_FATAL_FAILURE(change_codecs_while_v_is_held(change));
  auto [cam, v, cam2] = change.handles;
  auto& hangup = change.hangup;
  // The viewer's late answer to its watch offer, before the notifier's next turn.
  plugin->handle_message(v, "late", parse(R"({"request":"start"})"), jsep("answer", "v=0\r\n"));
  ASSERT_EQ(held(2), 2);  // the worker, pushing "watching"
  send_rtp(cam2, true, 1, 1, 0xCCCC);
  EXPECT_EQ(host.relayed_to(v).size(), 0u) << "media of other codecs under the old offer";
  push_gate.release();
  hangup.wait();
  ASSERT_TRUE(answer("late", 5000).has_value());
  // The notifier's offer of the new codecs (the first "offer" answered the viewer's watch).
  EXPECT_EQ(str(nth_event(v, "offer", 2).jsep, "type"), "offer");
  request(v, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
  send_rtp(cam2, true, 2, 3001, 0xCCCC);
  EXPECT_EQ(host.relayed_to(v).size(), 1u);
  for (auto* h : {v, cam, cam2}) detach(h);
}

TEST_F(DevicesTest, ShutdownWithLiveDevicesReleasesEverything) {
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* v1 = viewer("cam1");
  janus_plugin_session* v2 = viewer("cam1");
  plugin->shutdown();
  for (auto* h : {cam, v1, v2}) EXPECT_EQ(host.references(h), 0);
  EXPECT_EQ(plugin->devices().size(), 0u);
}

}  // namespace
}  // namespace jmedia
