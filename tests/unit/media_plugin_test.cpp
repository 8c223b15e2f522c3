// MediaPlugin against a fake core: requests, events, errors and the session lifecycle in
// every order the core may call it.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "../../common/json.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"
#include "eventually.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using namespace std::chrono_literals;
using testing::code;
using testing::eventually;
using testing::fake_offer;
using testing::jsep;
using testing::parse;
using testing::PluginTest;
using testing::str;

class MediaPluginTest : public PluginTest {
 protected:
  void make_plugin(PluginConfig config = {}) {
    plugin = std::make_unique<MediaPlugin>(host, sdp, config);
  }
  void SetUp() override { make_plugin(); }
  void TearDown() override { plugin.reset(); }

  Reply send(janus_plugin_session* handle, const std::string& body, JsonPtr jsep = nullptr,
             const char* transaction = "tx1") {
    return plugin->handle_message(handle, transaction, parse(body), std::move(jsep));
  }
};

TEST_F(MediaPluginTest, EchoAnswersWithJsepAndSessionId) {
  janus_plugin_session* handle = attach();
  Reply reply = send(handle, R"({"request":"echo"})", jsep("offer"));
  EXPECT_EQ(reply.kind, Reply::Kind::kAsync);
  auto events = host.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].handle, handle);
  EXPECT_EQ(events[0].transaction, "tx1");
  EXPECT_EQ(str(events[0].event, "media"), "event");
  EXPECT_EQ(str(events[0].event, "result"), "echoing");
  const std::string id = str(events[0].event, "media_session");
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(str(events[0].jsep, "type"), "answer");
  EXPECT_FALSE(str(events[0].jsep, "sdp").empty());
  JsonPtr info = plugin->query_session(handle);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(json_string_value(json_object_get(info.get(), "media_session")), id);
  EXPECT_STREQ(json_string_value(json_object_get(info.get(), "role")), "echo");
  EXPECT_STREQ(json_string_value(json_object_get(info.get(), "state")), "negotiating");
  detach(handle);
}

TEST_F(MediaPluginTest, MediaIsEchoedOnlyForEnabledKinds) {
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo","audio":false})", jsep("offer"));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  plugin->setup_media(handle);
  char buffer[12] = {};
  janus_plugin_rtp audio{};
  audio.video = FALSE;
  audio.buffer = buffer;
  audio.length = sizeof buffer;
  janus_plugin_rtp video = audio;
  video.video = TRUE;
  plugin->incoming_rtp(handle, &audio);
  plugin->incoming_rtp(handle, &video);
  plugin->incoming_rtp(handle, &video);
  EXPECT_EQ(host.relayed_rtp.load(), 2);
  janus_plugin_data data{};
  char text[] = "hello";
  data.buffer = text;
  data.length = 5;
  plugin->incoming_data(handle, &data);
  EXPECT_EQ(host.relayed_data.load(), 1);
  janus_plugin_rtcp rtcp{};
  rtcp.buffer = buffer;
  rtcp.length = sizeof buffer;
  plugin->incoming_rtcp(handle, &rtcp);
  EXPECT_EQ(host.relayed_rtcp.load(), 1);
  JsonPtr info = plugin->query_session(handle);
  EXPECT_STREQ(json_string_value(json_object_get(info.get(), "state")), "up");
  EXPECT_EQ(json_integer_value(json_object_get(info.get(), "packets_in")), 4);
  EXPECT_EQ(json_integer_value(json_object_get(info.get(), "packets_out")), 3);
  detach(handle);
  // After destroy_session the handle carries no session: nothing is relayed.
  plugin->incoming_rtp(handle, &video);
  EXPECT_EQ(host.relayed_rtp.load(), 2);
}

TEST_F(MediaPluginTest, ARenegotiationThatAddsVideoGetsItEchoed) {
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo"})", jsep("offer", fake_offer(true, false, false)));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  plugin->setup_media(handle);
  // The client adds a camera: its configure re-offers audio and video.
  send(handle, R"({"request":"configure"})", jsep("offer", fake_offer(true, true, false)), "tx2");
  auto events = host.wait_events(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(str(events[1].event, "result"), "configured") << events[1].event;
  EXPECT_EQ(str(events[1].jsep, "type"), "answer");
  char buffer[12] = {};
  janus_plugin_rtp video{};
  video.video = TRUE;
  video.buffer = buffer;
  video.length = sizeof buffer;
  plugin->incoming_rtp(handle, &video);
  EXPECT_EQ(host.relayed_rtp.load(), 1) << "the video the new answer accepted is echoed";
  JsonPtr info = plugin->query_session(handle);
  EXPECT_TRUE(json_is_true(json_object_get(info.get(), "video")));
  // And a re-offer without video stops relaying it.
  send(handle, R"({"request":"configure"})", jsep("offer", fake_offer(true, false, false)), "tx3");
  ASSERT_EQ(host.wait_events(3).size(), 3u);
  plugin->incoming_rtp(handle, &video);
  EXPECT_EQ(host.relayed_rtp.load(), 1);
  info = plugin->query_session(handle);
  EXPECT_TRUE(json_is_false(json_object_get(info.get(), "video")));
  detach(handle);
}

TEST_F(MediaPluginTest, ListSummariesFollowTheSession) {
  janus_plugin_session* handle = attach();
  janus_plugin_session* other = attach();
  auto summary = [&](const Reply& reply) -> json_t* {
    EXPECT_EQ(reply.kind, Reply::Kind::kSync);
    json_t* sessions = json_object_get(reply.body.get(), "sessions");
    EXPECT_EQ(json_array_size(sessions), 1u) << dump(reply.body.get());
    return json_array_get(sessions, 0);
  };
  auto text = [](json_t* object, const char* key) {
    const json_t* value = json_object_get(object, key);
    return std::string(json_is_string(value) ? json_string_value(value) : "");
  };
  send(handle, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  Reply first = send(other, R"({"request":"list","role":"echo"})");
  Reply second = send(other, R"({"request":"list","role":"echo"})");
  EXPECT_EQ(text(summary(first), "state"), "negotiating");
  EXPECT_EQ(text(summary(second), "state"), "negotiating");
  plugin->setup_media(handle);
  Reply up = send(other, R"({"request":"list","role":"echo"})");
  EXPECT_EQ(text(summary(up), "state"), "up");
  EXPECT_EQ(text(summary(first), "state"), "negotiating") << "a page already answered is kept";
  send(handle, R"({"request":"hangup"})", nullptr, "tx2");
  plugin->hangup_media(handle);
  Reply all = send(other, R"({"request":"list"})");
  json_t* sessions = json_object_get(all.body.get(), "sessions");
  ASSERT_EQ(json_array_size(sessions), 2u);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(text(json_array_get(sessions, i), "role"), "none");
  detach(handle);
  detach(other);
}

TEST_F(MediaPluginTest, NoMediaIsRelayedBeforeAnEcho) {
  janus_plugin_session* handle = attach();
  char buffer[12] = {};
  janus_plugin_rtp rtp{};
  rtp.buffer = buffer;
  rtp.length = sizeof buffer;
  plugin->incoming_rtp(handle, &rtp);
  EXPECT_EQ(host.relayed_rtp.load(), 0);
  detach(handle);
}

TEST_F(MediaPluginTest, SyncErrorsForUnreadableRequests) {
  janus_plugin_session* handle = attach();
  struct Case {
    const char* body;
    ErrorCode code;
  };
  for (const Case& c :
       {Case{"[1]", ErrorCode::kInvalidBody}, Case{"{}", ErrorCode::kMissingRequest},
        Case{R"({"request":"nope"})", ErrorCode::kUnknownRequest}}) {
    Reply reply = send(handle, c.body);
    ASSERT_EQ(reply.kind, Reply::Kind::kSync) << c.body;
    EXPECT_EQ(json_integer_value(json_object_get(reply.body.get(), "error_code")), numeric(c.code));
    EXPECT_STREQ(json_string_value(json_object_get(reply.body.get(), "media")), "event");
  }
  EXPECT_TRUE(host.events().empty());
  detach(handle);
}

TEST_F(MediaPluginTest, AsyncErrorsArriveAsEventsWithTheTransaction) {
  janus_plugin_session* handle = attach();
  Reply reply = send(handle, R"({"request":"echo"})", nullptr, "t-missing");
  EXPECT_EQ(reply.kind, Reply::Kind::kAsync);
  send(handle, R"({"request":"echo","video":"on"})", jsep("offer"), "t-field");
  send(handle, R"({"request":"echo"})", jsep("offer", "garbage"), "t-sdp");
  auto events = host.wait_events(3);
  ASSERT_EQ(events.size(), 3u);
  std::map<std::string, std::int64_t> codes;
  for (const auto& e : events) codes[e.transaction] = code(e.event);
  EXPECT_EQ(codes["t-missing"], numeric(ErrorCode::kMissingJsep));
  EXPECT_EQ(codes["t-field"], numeric(ErrorCode::kInvalidField));
  EXPECT_EQ(codes["t-sdp"], numeric(ErrorCode::kInvalidSdp));
  // The two refused offers reset the handle so that the client may offer again (the worker
  // closes the PeerConnection after it pushed the error: polled, bounded).
  eventually([&] { return host.closed_pcs.load() >= 2; });
  EXPECT_EQ(host.closed_pcs.load(), 2);
  detach(handle);
}

TEST_F(MediaPluginTest, UnknownHandleGetsNoSession) {
  janus_plugin_session* stranger = host.new_handle();
  Reply reply = send(stranger, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(reply.kind, Reply::Kind::kSync);
  EXPECT_EQ(json_integer_value(json_object_get(reply.body.get(), "error_code")),
            numeric(ErrorCode::kNoSession));
  EXPECT_EQ(plugin->query_session(stranger), nullptr);
  int error = 0;
  plugin->destroy_session(stranger, &error);
  EXPECT_NE(error, 0);
}

TEST_F(MediaPluginTest, MaxSessionsRefusesNewMediaSessions) {
  PluginConfig config;
  config.max_sessions = 2;
  make_plugin(config);
  janus_plugin_session* a = attach();
  janus_plugin_session* b = attach();
  janus_plugin_session* c = attach();
  send(a, R"({"request":"echo"})", jsep("offer"), "a");
  send(b, R"({"request":"echo"})", jsep("offer"), "b");
  ASSERT_EQ(host.wait_events(2).size(), 2u);
  send(c, R"({"request":"echo"})", jsep("offer"), "c");
  auto events = host.wait_events(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].transaction, "c");
  EXPECT_EQ(code(events[2].event), numeric(ErrorCode::kTooManySessions));
  EXPECT_EQ(plugin->sessions().active(), 2u);
  // Ending one media session frees its slot.
  plugin->hangup_media(a);
  EXPECT_EQ(plugin->sessions().active(), 1u);
  send(c, R"({"request":"echo"})", jsep("offer"), "c2");
  events = host.wait_events(5);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(str(events[4].event, "result"), "echoing");
  detach(a);
  detach(b);
  detach(c);
  EXPECT_EQ(plugin->sessions().active(), 0u);
}

TEST_F(MediaPluginTest, FullQueueAnswersBusyAtOnce) {
  PluginConfig config;
  config.queue_size = 2;
  config.worker_threads = 1;
  make_plugin(config);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  sdp.before_answer = [gate] { gate.wait_for(10s); };
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo"})", jsep("offer"), "a");
  send(handle, R"({"request":"echo"})", jsep("offer"), "b");
  send(handle, R"({"request":"echo"})", jsep("offer"), "c");
  auto events = host.wait_events(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].transaction, "c");
  EXPECT_EQ(code(events[0].event), numeric(ErrorCode::kBusy));
  release.set_value();
  events = host.wait_events(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[1].event, "result"), "echoing");
  EXPECT_EQ(str(events[2].event, "result"), "echoing");
  detach(handle);
}

TEST_F(MediaPluginTest, DestroyWhileQueuedPushesNothingAndReleasesLater) {
  PluginConfig config;
  config.worker_threads = 1;
  make_plugin(config);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> entered;
  std::atomic<bool> first{true};
  sdp.before_answer = [&, gate] {
    if (first.exchange(false)) entered.set_value();
    gate.wait_for(10s);
  };
  janus_plugin_session* busy = attach();
  janus_plugin_session* handle = attach();
  send(busy, R"({"request":"echo"})", jsep("offer"), "hold");
  ASSERT_EQ(entered.get_future().wait_for(10s), std::future_status::ready);
  send(handle, R"({"request":"echo"})", jsep("offer"), "queued");
  detach(handle);
  EXPECT_EQ(host.references(handle), 1) << "the queued job still holds the session";
  release.set_value();
  auto events = host.wait_events(1);
  for (int i = 0; i < 5000 && (host.references(handle) != 0 || plugin->queue_depth() != 0); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(host.references(handle), 0);
  for (const auto& e : host.events()) EXPECT_NE(e.transaction, "queued");
  detach(busy);
}

TEST_F(MediaPluginTest, HangupOnceAndReason) {
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  plugin->setup_media(handle);
  send(handle, R"({"request":"hangup"})", nullptr, "bye");
  auto events = host.wait_events(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].transaction, "bye");
  EXPECT_EQ(str(events[1].event, "result"), "hangingup");
  EXPECT_EQ(host.closed_pcs.load(), 1);
  plugin->hangup_media(handle);  // the core reports the PeerConnection gone
  plugin->hangup_media(handle);  // ...and a second time: no second event
  events = host.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[2].event, "result"), "hangup");
  EXPECT_EQ(str(events[2].event, "reason"), "request");
  JsonPtr info = plugin->query_session(handle);
  EXPECT_STREQ(json_string_value(json_object_get(info.get(), "state")), "closed");
  // A new echo on the same handle renegotiates, and can hang up again.
  send(handle, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(4).size(), 4u);
  plugin->setup_media(handle);
  plugin->hangup_media(handle);
  events = host.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(str(events[4].event, "reason"), "peerconnection closed");
  detach(handle);
}

TEST_F(MediaPluginTest, NegotiationTimeoutEndsRolesThatNeverCameUp) {
  PluginConfig config;
  config.negotiation_timeout_s = 5;
  make_plugin(config);
  janus_plugin_session* stuck = attach();
  janus_plugin_session* live = attach();
  send(stuck, R"({"request":"echo"})", jsep("offer"));
  send(live, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(2).size(), 2u);
  plugin->setup_media(live);
  ASSERT_EQ(plugin->sessions().active(), 2u);
  const std::int64_t now = monotonic_ms_now();

  EXPECT_EQ(plugin->expire_negotiations(now + 4000), 0u);  // not yet
  EXPECT_EQ(plugin->expire_negotiations(now + 6000), 1u);  // the stuck one only
  EXPECT_EQ(plugin->expire_negotiations(now + 9000), 0u);  // once
  EXPECT_EQ(plugin->sessions().active(), 1u);
  EXPECT_EQ(host.closed_pcs.load(), 1);
  auto events = host.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[2].event, "result"), "hangup");
  EXPECT_EQ(str(events[2].event, "reason"), "negotiation timeout");
  EXPECT_EQ(str(events[2].event, "role"), "echo");
  JsonPtr info = plugin->query_session(stuck);
  EXPECT_STREQ(json_string_value(json_object_get(info.get(), "state")), "closed");
  // The core reporting the hangup of the closed PeerConnection later tells nobody again.
  plugin->hangup_media(stuck);
  EXPECT_EQ(host.events().size(), 3u);
  // The handle can negotiate again.
  send(stuck, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(4).size(), 4u);
  EXPECT_EQ(plugin->sessions().active(), 2u);
  detach(stuck);
  detach(live);
}

TEST_F(MediaPluginTest, NegotiationTimeoutZeroIsOff) {
  PluginConfig config;
  config.negotiation_timeout_s = 0;
  make_plugin(config);
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  EXPECT_EQ(plugin->expire_negotiations(monotonic_ms_now() + 86400000), 0u);
  EXPECT_EQ(plugin->sessions().active(), 1u);
  detach(handle);
}

TEST_F(MediaPluginTest, TheSweeperThreadEndsAStuckNegotiationOnItsOwn) {
  PluginConfig config;
  config.negotiation_timeout_s = 1;  // swept every 250 ms
  make_plugin(config);
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  // Bounded: 1 s of timeout, a 250 ms period, and slack for a loaded machine.
  auto events = host.wait_events(2, 10000);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(str(events[1].event, "reason"), "negotiation timeout");
  EXPECT_EQ(plugin->sessions().active(), 0u);
  detach(handle);
}

TEST_F(MediaPluginTest, HangupWithoutPeerConnectionClosesNothing) {
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"hangup"})");
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  EXPECT_EQ(host.closed_pcs.load(), 0);
  detach(handle);
}

TEST_F(MediaPluginTest, DestroyWithoutHangupAndHangupAfterDestroy) {
  janus_plugin_session* handle = attach();
  send(handle, R"({"request":"echo"})", jsep("offer"));
  ASSERT_EQ(host.wait_events(1).size(), 1u);
  plugin->setup_media(handle);
  detach(handle);
  plugin->hangup_media(handle);
  EXPECT_EQ(host.events().size(), 1u);
  EXPECT_EQ(host.references(handle), 0);
}

TEST_F(MediaPluginTest, ShutdownReleasesEverySessionAndRefusesWork) {
  std::vector<janus_plugin_session*> handles;
  for (int i = 0; i < 20; ++i) handles.push_back(attach());
  send(handles[0], R"({"request":"echo"})", jsep("offer"));
  host.wait_events(1);
  plugin->shutdown();
  for (auto* handle : handles) EXPECT_EQ(host.references(handle), 0);
  EXPECT_EQ(plugin->sessions().size(), 0u);
  janus_plugin_session* late = host.new_handle();
  int error = 0;
  plugin->create_session(late, &error);
  EXPECT_NE(error, 0);
  Reply reply = send(handles[1], R"({"request":"echo"})", jsep("offer"));
  EXPECT_EQ(json_integer_value(json_object_get(reply.body.get(), "error_code")),
            numeric(ErrorCode::kShuttingDown));
  // destroy_session after shutdown: nothing left to find, nothing crashes.
  plugin->destroy_session(handles[2], &error);
  EXPECT_NE(error, 0);
}

TEST_F(MediaPluginTest, ManySessionsCreatedAndDestroyedLeaveNothing) {
  for (int round = 0; round < 1000; ++round) {
    janus_plugin_session* handle = attach();
    if (round % 10 == 0) send(handle, R"({"request":"echo"})", jsep("offer"));
    detach(handle);
  }
  for (int i = 0; i < 5000 && plugin->queue_depth() != 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(plugin->sessions().size(), 0u);
  EXPECT_EQ(plugin->queue_depth(), 0u);
}

TEST_F(MediaPluginTest, AdminErrorsCarryCodes) {
  JsonPtr message = parse(R"({"request":"launch"})");
  JsonPtr reply = plugin->handle_admin_message(message.get());
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "error_code")),
            numeric(ErrorCode::kUnknownRequest));
  message = parse(R"({"request":"info","media_session":"0000000000000000"})");
  reply = plugin->handle_admin_message(message.get());
  EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "error_code")),
            numeric(ErrorCode::kSessionNotFound));
}

}  // namespace
}  // namespace jmedia
