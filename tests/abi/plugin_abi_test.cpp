// janus.plugin.media through its C ABI, as Janus calls it: create() -> the janus_plugin struct
// -> init/create_session/handle_message/.../destroy, against a fake janus_callbacks and the
// stubbed executable symbols (janus_stubs.h). Includes destroy() racing callbacks that other
// threads are still running, as Janus 1.1.2 does at shutdown: it frees its task pool without
// waiting (g_thread_pool_free(tasks, FALSE, FALSE)) and handle loops may still deliver media
// when it calls the plugins' destroy().
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../common/janus_api.h"
#include "../../common/json.h"
#include "../../transport/api_metrics.h"
#include "../../transport/media_api.h"
#include "janus_stubs.h"
#include "media_view.h"
#include "runtime.h"

extern "C" janus_plugin* create(void);

namespace jmedia {
namespace {

using namespace std::chrono_literals;

// The fake core: what the plugin pushed and relayed, and a gate that can hold relay_rtp.
struct Core {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<janus_plugin_session*, std::string>> events;  // handle, compact JSON
  std::atomic<int> relayed{0};
  std::atomic<int> closed{0};
  std::atomic<int> released{0};
  // While hold_relay is set, relay_rtp reports that it was entered and waits for release.
  std::atomic<bool> hold_relay{false};
  std::promise<void> relay_entered;
  std::shared_future<void> relay_released;
  // The same for push_event.
  std::atomic<bool> hold_push{false};
  std::promise<void> push_entered;
  std::shared_future<void> push_released;
};
Core* core = nullptr;

int push_event(janus_plugin_session* handle, janus_plugin* /*plugin*/, const char* /*tx*/,
               json_t* message, json_t* /*jsep*/) {
  if (core->hold_push.exchange(false)) {
    core->push_entered.set_value();
    core->push_released.wait_for(20s);
  }
  std::lock_guard lock(core->mutex);
  core->events.emplace_back(handle, dump(message));
  core->changed.notify_all();
  return 0;
}
void relay_rtp(janus_plugin_session* /*handle*/, janus_plugin_rtp* /*packet*/) {
  if (core->hold_relay.exchange(false)) {
    core->relay_entered.set_value();
    core->relay_released.wait_for(20s);
  }
  ++core->relayed;
}
void relay_rtcp(janus_plugin_session* /*handle*/, janus_plugin_rtcp* /*packet*/) {}
void relay_data(janus_plugin_session* /*handle*/, janus_plugin_data* /*packet*/) {}
void send_pli(janus_plugin_session* /*handle*/) {}
void send_pli_stream(janus_plugin_session* /*handle*/, int /*mindex*/) {}
void send_remb(janus_plugin_session* /*handle*/, guint32 /*bitrate*/) {}
void close_pc(janus_plugin_session* /*handle*/) {
  ++core->closed;
}
void end_session(janus_plugin_session* /*handle*/) {}
gboolean events_is_enabled() {
  return FALSE;
}
void notify_event(janus_plugin* /*plugin*/, janus_plugin_session* /*handle*/, json_t* /*event*/) {}
gboolean auth_is_signed() {
  return FALSE;
}
gboolean auth_is_signature_valid(janus_plugin* /*plugin*/, const char* /*token*/) {
  return FALSE;
}
gboolean auth_signature_contains(janus_plugin* /*plugin*/, const char* /*token*/,
                                 const char* /*descriptor*/) {
  return FALSE;
}

janus_callbacks callbacks = {
    .push_event = push_event,
    .relay_rtp = relay_rtp,
    .relay_rtcp = relay_rtcp,
    .relay_data = relay_data,
    .send_pli = send_pli,
    .send_pli_stream = send_pli_stream,
    .send_remb = send_remb,
    .close_pc = close_pc,
    .end_session = end_session,
    .events_is_enabled = events_is_enabled,
    .notify_event = notify_event,
    .auth_is_signed = auth_is_signed,
    .auth_is_signature_valid = auth_is_signature_valid,
    .auth_signature_contains = auth_signature_contains,
};

void handle_freed(const janus_refcount* /*ref*/) {
  ++core->released;
}

constexpr const char* kOffer =
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";

class PluginAbiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core = &fake;
    plugin = create();
    ASSERT_NE(plugin, nullptr);
    char folder[] = "/tmp/jmedia-plugin-abi-XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    config_dir = folder;
    // The file must exist for read_janus_config to ask janus_config_parse (the stub).
    g_file_set_contents((config_dir + "/janus.plugin.media.jcfg").c_str(), "", 0, nullptr);
    testing::stubs::set_config({{"general.worker_threads", "2"}});
    testing::stubs::clear_log();
  }
  void TearDown() override {
    if (running) plugin->destroy();
    std::remove((config_dir + "/janus.plugin.media.jcfg").c_str());
    rmdir(config_dir.c_str());
    core = nullptr;
  }

  void init() {
    ASSERT_EQ(plugin->init(&callbacks, config_dir.c_str()), 0);
    running = true;
  }
  void destroy() {
    plugin->destroy();
    running = false;
  }
  janus_plugin_session* attach() {
    janus_plugin_session& handle = handles.emplace_back();
    handle.ref.count = 1;  // the core's reference, taken for the plugin
    handle.ref.free = handle_freed;
    int error = 1;
    plugin->create_session(&handle, &error);
    EXPECT_EQ(error, 0);
    return &handle;
  }
  // handle_message as the core calls it: every argument is the plugin's to free.
  janus_plugin_result* message(janus_plugin_session* handle, const char* body,
                               const char* offer = nullptr) {
    json_error_t error;
    json_t* jsep = nullptr;
    if (offer != nullptr) jsep = json_pack("{s:s, s:s}", "type", "offer", "sdp", offer);
    return plugin->handle_message(handle, g_strdup("tx"), json_loads(body, 0, &error), jsep);
  }
  // Waits (bounded) for the n-th event pushed to handle; returns its JSON or "".
  std::string wait_event(janus_plugin_session* handle, std::size_t n) {
    std::unique_lock lock(fake.mutex);
    std::string found;
    fake.changed.wait_for(lock, 10s, [&] {
      std::size_t seen = 0;
      for (const auto& [h, json] : fake.events) {
        if (h == handle && ++seen == n) {
          found = json;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // An echo session whose WebRTC is up, so incoming_rtp relays.
  janus_plugin_session* echo_up() {
    janus_plugin_session* handle = attach();
    janus_plugin_result* result = message(handle, R"({"request":"echo"})", kOffer);
    EXPECT_EQ(result->type, JANUS_PLUGIN_OK_WAIT);
    janus_plugin_result_destroy(result);
    EXPECT_NE(wait_event(handle, 1).find("\"echoing\""), std::string::npos);
    plugin->setup_media(handle);
    return handle;
  }
  void rtp(janus_plugin_session* handle) {
    char buffer[12] = {};
    janus_plugin_rtp packet{};
    packet.mindex = 1;
    packet.video = TRUE;
    packet.buffer = buffer;
    packet.length = sizeof buffer;
    plugin->incoming_rtp(handle, &packet);
  }

  Core fake;
  janus_plugin* plugin = nullptr;
  std::string config_dir;
  bool running = false;
  std::deque<janus_plugin_session> handles;
};

TEST_F(PluginAbiTest, TheTrampolinesReachThePluginAndOwnWhatTheCoreHandsOver) {
  EXPECT_EQ(plugin->get_api_compatibility(), JANUS_PLUGIN_API_VERSION);
  EXPECT_STREQ(plugin->get_package(), "janus.plugin.media");
  // Before init every callback answers as "not running", without crashing.
  janus_plugin_session stranger{};
  janus_plugin_result* early = message(&stranger, R"({"request":"list"})");
  ASSERT_NE(early, nullptr);
  EXPECT_EQ(early->type, JANUS_PLUGIN_ERROR);
  janus_plugin_result_destroy(early);
  init();
  janus_plugin_session* handle = echo_up();
  rtp(handle);
  EXPECT_EQ(fake.relayed.load(), 1);
  janus_plugin_result* list = message(handle, R"({"request":"list"})");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->type, JANUS_PLUGIN_OK);
  EXPECT_STREQ(json_string_value(json_object_get(list->content, "media")), "list");
  EXPECT_EQ(json_array_size(json_object_get(list->content, "sessions")), 1u);
  janus_plugin_result_destroy(list);
  json_t* info = plugin->query_session(handle);
  ASSERT_NE(info, nullptr);
  EXPECT_STREQ(json_string_value(json_object_get(info, "role")), "echo");
  EXPECT_STREQ(json_string_value(json_object_get(info, "state")), "up");
  json_decref(info);
  json_t* admin_request = json_pack("{s:s}", "request", "limits");
  json_t* limits = plugin->handle_admin_message(admin_request);
  json_decref(admin_request);
  ASSERT_NE(limits, nullptr);
  EXPECT_TRUE(json_is_integer(json_object_get(limits, "max_sessions")));
  json_decref(limits);
  plugin->hangup_media(handle);
  EXPECT_NE(wait_event(handle, 2).find("\"peerconnection closed\""), std::string::npos);
  int error = 1;
  plugin->destroy_session(handle, &error);
  EXPECT_EQ(error, 0);
  // Released with the session's last owner (the worker drops its job just after its push).
  for (int i = 0; i < 10000 && fake.released.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(fake.released.load(), 1) << "the core's handle reference is released once";
  destroy();
  janus_plugin_result* late = message(handle, R"({"request":"list"})");
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(late->type, JANUS_PLUGIN_ERROR);
  janus_plugin_result_destroy(late);
  rtp(handle);  // after destroy: nothing reached, nothing relayed
  EXPECT_EQ(fake.relayed.load(), 1);
  // init again after destroy works (a new state).
  init();
  janus_plugin_session* again = echo_up();
  rtp(again);
  EXPECT_EQ(fake.relayed.load(), 2);
  destroy();
  EXPECT_EQ(fake.released.load(), 2);
}

// access.mode = "token" without a usable key: init fails with a log line saying why, and the
// plugin answers nothing (it never runs open instead). With a key it starts and enforces.
TEST_F(PluginAbiTest, TokenModeWithoutAUsableKeyNeverStarts) {
  for (const auto& values : std::vector<std::map<std::string, std::string>>{
           {{"access.mode", "token"}},
           {{"access.mode", "token"}, {"access.jwt_secret", "too short"}},
           {{"access.mode", "token"}, {"access.jwt_public_key", "/nonexistent/key.pem"}},
           {{"access.mode", "tokens"}}}) {
    testing::stubs::clear_log();
    testing::stubs::set_config(values);
    EXPECT_EQ(plugin->init(&callbacks, config_dir.c_str()), -1);
    EXPECT_TRUE(testing::stubs::log_contains("not started: access:")) << values.begin()->second;
    janus_plugin_session stranger{};
    janus_plugin_result* refused = message(&stranger, R"({"request":"list"})");
    ASSERT_NE(refused, nullptr);
    EXPECT_EQ(refused->type, JANUS_PLUGIN_ERROR);
    janus_plugin_result_destroy(refused);
  }
  testing::stubs::set_config(
      {{"access.mode", "token"}, {"access.jwt_secret", "a secret of thirty-two bytes or more"}});
  init();
  {
    // Other modules (the REST API) see the mode through the published view.
    runtime::MediaViewLease view = runtime::media_view();
    ASSERT_TRUE(view);
    EXPECT_TRUE(view->token_access());
  }
  janus_plugin_session* handle = attach();
  janus_plugin_result* result = message(handle, R"({"request":"echo"})", kOffer);
  EXPECT_EQ(result->type, JANUS_PLUGIN_OK_WAIT);
  janus_plugin_result_destroy(result);
  EXPECT_NE(wait_event(handle, 1).find("\"error_code\":1020"), std::string::npos);
  int error = 1;
  plugin->destroy_session(handle, &error);
  EXPECT_EQ(error, 0);
  destroy();
}

// A callback that loaded the plugin before destroy() cleared it still runs: destroy must not
// free what it uses. Here incoming_rtp is held inside the core's relay_rtp while destroy runs.
TEST_F(PluginAbiTest, DestroyWaitsForACallbackStillRunning) {
  init();
  janus_plugin_session* handle = echo_up();
  std::promise<void> release;
  fake.relay_released = release.get_future().share();
  std::future<void> entered = fake.relay_entered.get_future();
  fake.hold_relay = true;
  std::thread media([&] { rtp(handle); });
  ASSERT_EQ(entered.wait_for(10s), std::future_status::ready);
  std::atomic<bool> destroyed{false};
  std::thread stopper([&] {
    plugin->destroy();
    destroyed = true;
  });
  // destroy() says when it waits for callbacks still inside (common/module_slot.h).
  EXPECT_TRUE(testing::stubs::wait_for_log("destroy: waiting for 1 callbacks"))
      << "destroy() did not wait for the incoming_rtp inside";
  EXPECT_FALSE(destroyed.load()) << "destroy() returned while incoming_rtp was still inside";
  janus_plugin_result* result = message(handle, R"({"request":"list"})");
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->type, JANUS_PLUGIN_ERROR) << "a new callback must find the plugin gone";
  janus_plugin_result_destroy(result);
  release.set_value();  // incoming_rtp goes on: counts, metrics, on the plugin's memory
  media.join();
  stopper.join();
  running = false;
  EXPECT_TRUE(destroyed.load());
  EXPECT_EQ(fake.relayed.load(), 1);
  EXPECT_EQ(fake.released.load(), 1);
}

// Threads of the core hammer the callbacks (media on loop threads, requests on the task pool,
// queries on the sessions thread) while destroy() runs, round after round. Under ASan a freed
// plugin reached by a late callback is a heap-use-after-free.
TEST_F(PluginAbiTest, DestroyRacesCallbacksOnOtherThreads) {
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    init();
    std::vector<janus_plugin_session*> sessions;
    sessions.reserve(4);
    for (int i = 0; i < 4; ++i) sessions.push_back(echo_up());
    std::atomic<bool> stop{false};
    std::atomic<int> calls{0};
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        janus_plugin_session* handle = sessions[static_cast<std::size_t>(t)];
        while (!stop.load()) {
          rtp(handle);
          char bytes[8] = {};
          janus_plugin_rtcp rtcp{};
          rtcp.video = TRUE;
          rtcp.buffer = bytes;
          rtcp.length = sizeof bytes;
          plugin->incoming_rtcp(handle, &rtcp);
          janus_plugin_result_destroy(message(handle, R"({"request":"list"})"));
          janus_plugin_result_destroy(message(handle, R"({"request":"configure","video":true})"));
          json_decref(plugin->query_session(handle));
          ++calls;
        }
      });
    }
    for (int i = 0; i < 10000 && calls.load() < 200; ++i) std::this_thread::sleep_for(100us);
    destroy();
    const int at_destroy = calls.load();
    // The callbacks keep coming after destroy(), as Janus's do: a while longer.
    for (int i = 0; i < 10000 && calls.load() < at_destroy + 200; ++i) {
      std::this_thread::sleep_for(100us);
    }
    stop = true;
    for (auto& thread : threads) thread.join();
    EXPECT_GT(calls.load(), at_destroy);
  }
  EXPECT_EQ(fake.released.load(), 80);
}

// What the other modules reach of the plugin (runtime/media_view.h): published from init() to
// destroy(), answering the admin API's list, info, devices, kick and drain, and nothing else.
TEST_F(PluginAbiTest, TheViewIsPublishedWhileThePluginRuns) {
  EXPECT_FALSE(runtime::media_view()) << "nothing before init";
  init();
  {
    runtime::MediaViewLease view = runtime::media_view();
    ASSERT_TRUE(view);
    EXPECT_FALSE(view->token_access()) << "open mode (the default)";
    JsonPtr request = adopt(json_pack("{s:s, s:i}", "request", "list", "limit", 5));
    JsonPtr list = view->read(request.get());
    ASSERT_NE(list, nullptr);
    EXPECT_STREQ(json_string_value(json_object_get(list.get(), "media")), "list");
    for (const char* name : {"limits", "kick", "drain", "echo", "bogus"}) {
      JsonPtr other = adopt(json_pack("{s:s}", "request", name));
      JsonPtr refused = view->read(other.get());
      EXPECT_EQ(json_integer_value(json_object_get(refused.get(), "error_code")), 1003) << name;
    }
    for (const char* name : {"limits", "list", "info"}) {
      JsonPtr other = adopt(json_pack("{s:s}", "request", name));
      JsonPtr refused = view->command(other.get());
      EXPECT_EQ(json_integer_value(json_object_get(refused.get(), "error_code")), 1003) << name;
    }
    JsonPtr on = adopt(json_pack("{s:s, s:b}", "request", "drain", "enabled", 1));
    JsonPtr drained = view->command(on.get());
    EXPECT_TRUE(json_is_true(json_object_get(drained.get(), "enabled")));
    EXPECT_TRUE(runtime::plugin_draining()) << "/readyz follows";
    JsonPtr off = adopt(json_pack("{s:s, s:b}", "request", "drain", "enabled", 0));
    view->command(off.get());
    EXPECT_FALSE(runtime::plugin_draining());
  }
  destroy();
  EXPECT_FALSE(runtime::media_view()) << "withdrawn by destroy()";
  init();
  EXPECT_TRUE(runtime::media_view()) << "published again by the next init()";
}

// The transport's REST API over the real plugin: the same objects as the plugin's own list and
// info over the Janus API, and a DELETE kicks.
TEST_F(PluginAbiTest, TheRestApiAnswersWhatThePluginAnswers) {
  init();
  std::vector<janus_plugin_session*> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(attach());
  janus_plugin_session* echo = echo_up();
  transport::ApiMetrics metrics;
  transport::MediaApi api(transport::MediaApiOptions{}, metrics);
  auto rest = [&](const char* method, const std::string& path, const char* query = "") {
    transport::Request request{method, path, nullptr};
    request.query = query;
    request.peer_loopback = true;
    return api.handle(request);
  };
  auto janus_api = [&](const char* body) {
    janus_plugin_result* result = message(echo, body);
    std::string json = dump(result->content);
    janus_plugin_result_destroy(result);
    return json;
  };
  for (const auto& [query, body] :
       {std::pair{"", R"({"request":"list"})"},
        std::pair{"limit=2", R"({"request":"list","limit":2})"},
        std::pair{"detail=true&role=echo", R"({"request":"list","detail":true,"role":"echo"})"},
        std::pair{"limit=0", R"({"request":"list","limit":0})"}}) {
    transport::Response response = rest("GET", "/api/media/sessions", query);
    EXPECT_EQ(response.body, janus_api(body)) << query;
    EXPECT_EQ(response.status, std::string_view(query) == "limit=0" ? 400u : 200u) << query;
  }
  JsonPtr page = adopt(json_loads(rest("GET", "/api/media/sessions").body.c_str(), 0, nullptr));
  EXPECT_EQ(json_array_size(json_object_get(page.get(), "sessions")), 4u);
  JsonPtr echo_page =
      adopt(json_loads(rest("GET", "/api/media/sessions", "role=echo").body.c_str(), 0, nullptr));
  const std::string echo_id = json_string_value(json_object_get(
      json_array_get(json_object_get(echo_page.get(), "sessions"), 0), "media_session"));
  EXPECT_EQ(rest("GET", "/api/media/sessions/" + echo_id).body,
            janus_api((R"({"request":"info","media_session":")" + echo_id + "\"}").c_str()));
  EXPECT_EQ(rest("GET", "/api/media/sessions/0000000000000000").status, 404u);
  EXPECT_EQ(rest("GET", "/api/media/devices").body, janus_api(R"({"request":"devices"})"));

  transport::Response kicked = rest("DELETE", "/api/media/sessions/" + echo_id);
  EXPECT_EQ(kicked.status, 200u);
  EXPECT_EQ(kicked.body, R"({"media":"kick","kicked":1})");
  EXPECT_NE(wait_event(echo, 2).find("\"kicked\""), std::string::npos);
  EXPECT_EQ(fake.closed.load(), 1) << "its PeerConnection is closed, as by the admin kick";
  EXPECT_EQ(rest("DELETE", "/api/media/devices/cam-none").status, 404u);
}

// A REST call inside the plugin (here a kick held in the core's push_event) when destroy()
// comes: destroy waits for it; calls that start meanwhile find no view.
TEST_F(PluginAbiTest, DestroyWaitsForAViewCallInside) {
  init();
  echo_up();
  const std::string id = [&] {
    JsonPtr request = adopt(json_pack("{s:s}", "request", "list"));
    JsonPtr list = runtime::media_view()->read(request.get());
    return std::string(json_string_value(json_object_get(
        json_array_get(json_object_get(list.get(), "sessions"), 0), "media_session")));
  }();
  std::promise<void> release;
  fake.push_released = release.get_future().share();
  std::future<void> entered = fake.push_entered.get_future();
  fake.hold_push = true;
  JsonPtr kick_reply;
  std::thread operator_call([&] {
    runtime::MediaViewLease view = runtime::media_view();
    ASSERT_TRUE(view);
    JsonPtr kick = adopt(json_pack("{s:s, s:s}", "request", "kick", "media_session", id.c_str()));
    kick_reply = view->command(kick.get());
  });
  ASSERT_EQ(entered.wait_for(10s), std::future_status::ready);
  std::atomic<bool> destroyed{false};
  std::thread stopper([&] {
    plugin->destroy();
    destroyed = true;
  });
  for (int i = 0; i < 10000 && runtime::media_view(); ++i) std::this_thread::sleep_for(100us);
  EXPECT_FALSE(runtime::media_view()) << "withdrawn at once: no new call gets in";
  std::this_thread::sleep_for(50ms);  // the stopper is waiting, not done
  EXPECT_FALSE(destroyed.load()) << "destroy() returned while a view call was inside";
  release.set_value();
  operator_call.join();
  stopper.join();
  running = false;
  EXPECT_TRUE(destroyed.load());
  ASSERT_NE(kick_reply, nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(kick_reply.get(), "kicked")), 1);
}

// Operators' threads read through the view while destroy() runs, round after round (ASan: a
// freed plugin reached by a late call is a heap-use-after-free).
TEST_F(PluginAbiTest, DestroyRacesViewCallsOnOtherThreads) {
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    init();
    for (int i = 0; i < 4; ++i) attach();
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::atomic<int> empty{0};
    std::vector<std::thread> threads;
    threads.reserve(3);
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        JsonPtr request = adopt(json_pack("{s:s, s:i}", "request", "list", "limit", 3));
        while (!stop.load()) {
          runtime::MediaViewLease view = runtime::media_view();
          if (!view) {
            ++empty;
            continue;
          }
          if (view->read(request.get()) != nullptr) ++answered;
          view->token_access();
        }
      });
    }
    for (int i = 0; i < 10000 && answered.load() < 100; ++i) std::this_thread::sleep_for(100us);
    destroy();
    const int at_destroy = empty.load();
    for (int i = 0; i < 10000 && empty.load() < at_destroy + 100; ++i) {
      std::this_thread::sleep_for(100us);
    }
    stop = true;
    for (auto& thread : threads) thread.join();
    EXPECT_GT(answered.load(), 0);
    EXPECT_GT(empty.load(), at_destroy) << "calls after destroy() find no view";
  }
}

}  // namespace
}  // namespace jmedia
