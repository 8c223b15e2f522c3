// Token mode (access.mode = "token") through MediaPlugin on a fake core, with the clock
// injected: every request that needs a token, granted and refused (1020 for each reason,
// 1021), start/configure/hangup without one, a token expiring during a session, info of a
// session the token does not cover, the filtered and paged list and devices, and what a page
// costs with 10,000 sessions the token does not cover.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../common/json.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"
#include "jwt_mint.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using testing::code;
using testing::counters;
using testing::jsep;
using testing::parse;
using testing::PluginTest;
using testing::PushedEvent;
using testing::str;

constexpr const char* kAccessSecret = "a secret for the access request tests, 32+ bytes";
constexpr const char* kHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::int64_t kStart = 1'800'000'000;  // the injected clock's first reading (Unix s)
// Grants for the tests' own set-up: publish and watch anything, echo.
constexpr const char* kOperator = R"({"publish":["*"],"watch":["*"],"echo":true})";

std::int64_t code(const JsonPtr& body) {
  return json_integer_value(json_object_get(body.get(), "error_code"));
}

std::string reason(const JsonPtr& body) {
  const json_t* v = json_object_get(body.get(), "error");
  return json_is_string(v) ? json_string_value(v) : "";
}

// body with "token": token (none when token is empty).
std::string with_token(const std::string& body, const std::string& token) {
  JsonPtr object = parse(body);
  if (!token.empty()) set(object.get(), "token", std::string_view(token));
  return dump(object.get());
}

PluginConfig token_config() {
  PluginConfig config;
  config.access = testing::hs256_access(kAccessSecret);
  return config;
}

class AccessRequestsTest : public PluginTest {
 protected:
  void SetUp() override { make_plugin(token_config()); }
  void TearDown() override { plugin.reset(); }
  void make_plugin(const PluginConfig& config) {
    plugin.reset();
    plugin = std::make_unique<MediaPlugin>(host, sdp, config, [this] {
      return TokenVerifier::Clock::time_point(std::chrono::seconds(now.load()));
    });
  }

  // An HS256 token with these grants (the "media" claim), expiring ttl seconds from the
  // injected now; extra: more claims (",\"nbf\":N").
  std::string token(const std::string& media, std::int64_t ttl = 3600,
                    const std::string& extra = "") const {
    const std::string payload = R"({"exp":)" + std::to_string(now.load() + ttl) +
                                R"(,"sub":"test-client")" + extra + R"(,"media":)" + media + "}";
    return testing::mint_hs256(kHeader, payload, kAccessSecret);
  }

  std::optional<PushedEvent> event_of(const std::string& tx) {
    for (const auto& e : host.events()) {
      if (e.transaction == tx) return e;
    }
    return std::nullopt;
  }
  std::string send(janus_plugin_session* handle, const std::string& body, JsonPtr j = nullptr) {
    const std::string tx = "tx" + std::to_string(++counter);
    Reply reply = plugin->handle_message(handle, tx.c_str(), parse(body), std::move(j));
    EXPECT_EQ(reply.kind, Reply::Kind::kAsync) << body;
    return tx;
  }
  // An async request and the event with its transaction (bounded wait).
  PushedEvent request(janus_plugin_session* handle, const std::string& body, JsonPtr j = nullptr) {
    const std::string tx = send(handle, body, std::move(j));
    for (int i = 0; i < 5000; ++i) {
      if (auto e = event_of(tx)) return *e;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "no event for " << body;
    return {};
  }
  // An async request that must be refused on the core's thread: its error event is there
  // when handle_message returns (no worker ran it, no queue slot held it).
  PushedEvent refused_at_once(janus_plugin_session* handle, const std::string& body,
                              JsonPtr j = nullptr) {
    const std::string tx = send(handle, body, std::move(j));
    auto e = event_of(tx);
    if (!e) {
      ADD_FAILURE() << "no event at once for " << body;
      return {};
    }
    return *e;
  }
  janus_plugin_session* publisher(const std::string& device,
                                  const std::string& grants = kOperator) {
    janus_plugin_session* handle = attach();
    auto e = request(
        handle,
        with_token(R"({"request":"publish","device_id":")" + device + R"("})", token(grants)),
        jsep("offer"));
    EXPECT_EQ(str(e.event, "result"), "publishing") << e.event;
    plugin->setup_media(handle);
    return handle;
  }
  janus_plugin_session* viewer(const std::string& device, const std::string& grants = kOperator) {
    janus_plugin_session* handle = attach();
    auto offer = request(
        handle,
        with_token(R"({"request":"watch","device_id":")" + device + R"("})", token(grants)));
    EXPECT_EQ(str(offer.event, "result"), "offer") << offer.event;
    auto started = request(handle, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
    EXPECT_EQ(str(started.event, "result"), "watching") << started.event;
    plugin->setup_media(handle);
    return handle;
  }
  std::string id_of(janus_plugin_session* handle) {
    JsonPtr session = plugin->query_session(handle);
    return json_string_value(json_object_get(session.get(), "media_session"));
  }
  std::map<std::string, double> access_counters() {
    return counters(*plugin->metrics(), "janus_media_");
  }

  std::atomic<std::int64_t> now{
      kStart};  // read by the plugin's clock: TearDown resets plugin first
  int counter = 0;
};

TEST_F(AccessRequestsTest, EveryRequestThatReachesOrListsADeviceNeedsAToken) {
  janus_plugin_session* handle = attach();
  const int closed = host.closed_pcs.load();
  // Async ones: the error event is pushed before handle_message returns, with the reason.
  for (const auto& [body, offer] : std::vector<std::pair<std::string, bool>>{
           {R"({"request":"publish","device_id":"cam-1"})", true},
           {R"({"request":"watch","device_id":"cam-1"})", false},
           {R"({"request":"echo"})", true}}) {
    auto e = refused_at_once(handle, body, offer ? jsep("offer") : nullptr);
    EXPECT_EQ(code(e.event), 1020) << body << " -> " << e.event;
    EXPECT_EQ(str(e.event, "error"), "unauthorized: no token in the request") << e.event;
  }
  // The two refused offers reset the handle's PeerConnection: the client may offer again.
  EXPECT_EQ(host.closed_pcs.load(), closed + 2);
  for (const char* body : {R"({"request":"list"})", R"({"request":"devices"})",
                           R"({"request":"info","media_session":"0123456789abcdef"})"}) {
    JsonPtr reply = sync(handle, body);
    EXPECT_EQ(code(reply), 1020) << body << " -> " << dump(reply.get());
    EXPECT_EQ(reason(reply), "unauthorized: no token in the request");
  }
  // A token that is not a string, or an empty one.
  JsonPtr number = sync(handle, R"({"request":"list","token":42})");
  EXPECT_EQ(code(number), 1020);
  EXPECT_EQ(reason(number), "unauthorized: token is not a string");
  JsonPtr empty = sync(handle, R"({"request":"list","token":""})");
  EXPECT_EQ(reason(empty), "unauthorized: no token in the request");
  // Nothing was answered, looked up or queued for them.
  EXPECT_EQ(sdp.calls.load(), 0);
  EXPECT_EQ(plugin->sessions().active(), 0u);
  const auto metrics = access_counters();
  EXPECT_EQ(metrics.at("janus_media_access_denied_total{reason=missing}"), 7);
  EXPECT_EQ(metrics.at("janus_media_access_denied_total{reason=invalid}"), 1);
  EXPECT_EQ(metrics.at("janus_media_request_errors_total{code=1020}"), 8);
  detach(handle);
}

TEST_F(AccessRequestsTest, ARefusedRequestTakesNoQueueSlot) {
  PluginConfig config = token_config();
  config.queue_size = 1;
  config.worker_threads = 1;
  make_plugin(config);
  // A granted publish holds the one worker and the one queue slot.
  std::mutex mutex;
  std::condition_variable changed;
  bool entered = false, release = false;
  sdp.before_answer = [&] {
    std::unique_lock lock(mutex);
    entered = true;
    changed.notify_all();
    changed.wait_for(lock, std::chrono::seconds(10), [&] { return release; });
  };
  janus_plugin_session* busy = attach();
  const std::string held =
      send(busy, with_token(R"({"request":"publish","device_id":"cam-1"})", token(kOperator)),
           jsep("offer"));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return entered; }));
  }
  janus_plugin_session* other = attach();
  // A request that gets a slot now is answered "busy" (1008): refused ones are not.
  auto full = refused_at_once(
      other, with_token(R"({"request":"watch","device_id":"cam-1"})", token(kOperator)));
  EXPECT_EQ(code(full.event), 1008) << full.event;
  auto missing = refused_at_once(other, R"({"request":"watch","device_id":"cam-1"})");
  EXPECT_EQ(code(missing.event), 1020) << missing.event;
  auto forbidden = refused_at_once(other, with_token(R"({"request":"watch","device_id":"cam-1"})",
                                                     token(R"({"watch":["door-*"]})")));
  EXPECT_EQ(code(forbidden.event), 1021) << forbidden.event;
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  for (int i = 0; i < 5000 && !event_of(held); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(event_of(held).has_value());
  EXPECT_EQ(str(event_of(held)->event, "result"), "publishing");
  sdp.before_answer = nullptr;
  for (auto* h : {busy, other}) detach(h);
}

TEST_F(AccessRequestsTest, InvalidAndExpiredTokensAreToldApartWithoutQuotingTheToken) {
  janus_plugin_session* handle = attach();
  const std::string list = R"({"request":"list"})";
  // Signed with another secret.
  const std::string forged = testing::mint_hs256(
      kHeader, R"({"exp":)" + std::to_string(kStart + 60) + R"(,"media":{"list":true}})",
      "another secret of at least thirty-two bytes");
  JsonPtr bad = sync(handle, with_token(list, forged));
  EXPECT_EQ(code(bad), 1020);
  EXPECT_EQ(reason(bad), "unauthorized: bad signature");
  EXPECT_EQ(dump(bad.get()).find(forged.substr(forged.rfind('.') + 1)), std::string::npos);
  // alg none, and a token with a pattern that is not one.
  const std::string none =
      testing::signing_input(R"({"alg":"none"})",
                             R"({"exp":)" + std::to_string(kStart + 60) + R"(,"media":{}})") +
      ".";
  EXPECT_EQ(reason(sync(handle, with_token(list, none))), "unauthorized: alg none is refused");
  JsonPtr pattern = sync(handle, with_token(list, token(R"({"watch":["cam*x"],"list":true})")));
  EXPECT_EQ(code(pattern), 1020);
  EXPECT_NE(reason(pattern).find("media.watch[0] is not a pattern"), std::string::npos)
      << reason(pattern);
  // Expiry, with the clock moved instead of waited for: exp + leeway (30 s) is the end.
  const std::string short_lived = token(R"({"list":true})", 60);
  now += 60 + 29;
  EXPECT_EQ(code(sync(handle, with_token(list, short_lived))), 0);
  now += 1;
  JsonPtr expired = sync(handle, with_token(list, short_lived));
  EXPECT_EQ(code(expired), 1020);
  EXPECT_EQ(reason(expired), "unauthorized: token expired");
  EXPECT_EQ(dump(expired.get()).find(short_lived), std::string::npos);
  // nbf in the future (beyond the leeway) is invalid until the clock gets there.
  const std::string later =
      token(R"({"list":true})", 3600, ",\"nbf\":" + std::to_string(now.load() + 100));
  JsonPtr early = sync(handle, with_token(list, later));
  EXPECT_EQ(reason(early), "unauthorized: token not valid yet (nbf)");
  now += 100 - 30;
  EXPECT_EQ(code(sync(handle, with_token(list, later))), 0);
  const auto metrics = access_counters();
  EXPECT_EQ(metrics.at("janus_media_access_denied_total{reason=invalid}"), 4);
  EXPECT_EQ(metrics.at("janus_media_access_denied_total{reason=expired}"), 1);
  EXPECT_EQ(metrics.at("janus_media_access_granted_total{request=list}"), 2);
  detach(handle);
}

TEST_F(AccessRequestsTest, PublishWatchAndEchoNeedTheirGrantAndNeverTellWhetherADeviceExists) {
  const std::string cam_publisher = R"({"publish":["cam-1"]})";
  janus_plugin_session* cam = publisher("cam-1", cam_publisher);
  janus_plugin_session* door = publisher("door-1", R"({"publish":["door-*"]})");
  // The cam-1 token publishes cam-1 only.
  janus_plugin_session* other = attach();
  auto cam2 = refused_at_once(
      other, with_token(R"({"request":"publish","device_id":"cam-2"})", token(cam_publisher)),
      jsep("offer"));
  EXPECT_EQ(code(cam2.event), 1021) << cam2.event;
  EXPECT_EQ(str(cam2.event, "error"), "forbidden: the token does not grant publishing this device");
  // A viewer of cam-*: watches cam-1, not door-1 (which exists) nor door-2 (which does not):
  // both refusals are the same words.
  const std::string cams = R"({"watch":["cam-*"]})";
  janus_plugin_session* v = viewer("cam-1", cams);
  janus_plugin_session* peeker = attach();
  auto door1 = refused_at_once(
      peeker, with_token(R"({"request":"watch","device_id":"door-1"})", token(cams)));
  auto door2 = refused_at_once(
      peeker, with_token(R"({"request":"watch","device_id":"door-2"})", token(cams)));
  EXPECT_EQ(code(door1.event), 1021) << door1.event;
  EXPECT_EQ(door1.event, door2.event);
  EXPECT_EQ(str(door1.event, "error"), "forbidden: the token does not grant watching this device");
  // A covered device without a publisher is the usual 1015: the token may know of it.
  auto cam9 =
      request(peeker, with_token(R"({"request":"watch","device_id":"cam-9"})", token(cams)));
  EXPECT_EQ(code(cam9.event), 1015) << cam9.event;
  // Watching does not grant publishing, nor echo.
  auto publish = refused_at_once(
      peeker, with_token(R"({"request":"publish","device_id":"cam-1"})", token(cams)),
      jsep("offer"));
  EXPECT_EQ(code(publish.event), 1021);
  auto no_echo =
      refused_at_once(peeker, with_token(R"({"request":"echo"})", token(cams)), jsep("offer"));
  EXPECT_EQ(code(no_echo.event), 1021);
  EXPECT_EQ(str(no_echo.event, "error"), "forbidden: the token does not grant echo");
  janus_plugin_session* echo = attach();
  auto echoing =
      request(echo, with_token(R"({"request":"echo"})", token(R"({"echo":true})")), jsep("offer"));
  EXPECT_EQ(str(echoing.event, "result"), "echoing") << echoing.event;
  // A request that does not parse, with a valid token, gets its own error (and is neither
  // granted nor refused by access control).
  auto malformed = refused_at_once(
      peeker, with_token(R"({"request":"watch","device_id":"no spaces"})", token(cams)));
  EXPECT_EQ(code(malformed.event), 1004) << malformed.event;
  const auto metrics = access_counters();
  EXPECT_EQ(metrics.at("janus_media_access_granted_total{request=publish}"), 2);
  EXPECT_EQ(metrics.at("janus_media_access_granted_total{request=watch}"), 2);
  EXPECT_EQ(metrics.at("janus_media_access_granted_total{request=echo}"), 1);
  EXPECT_EQ(metrics.at("janus_media_access_denied_total{reason=forbidden}"), 5);
  EXPECT_EQ(metrics.at("janus_media_request_errors_total{code=1021}"), 5);
  for (auto* h : {echo, peeker, v, other, door, cam}) detach(h);
}

TEST_F(AccessRequestsTest, AHandleWithARoleGoesOnWithoutAToken) {
  janus_plugin_session* cam = publisher("cam-1");
  janus_plugin_session* v = attach();
  auto offer = request(
      v, with_token(R"({"request":"watch","device_id":"cam-1"})", token(R"({"watch":["cam-1"]})")));
  ASSERT_EQ(str(offer.event, "result"), "offer") << offer.event;
  auto started = request(v, R"({"request":"start"})", jsep("answer", "v=0\r\n"));
  EXPECT_EQ(str(started.event, "result"), "watching") << started.event;
  plugin->setup_media(v);
  auto configured = request(v, R"({"request":"configure","video":false})");
  EXPECT_EQ(str(configured.event, "result"), "configured") << configured.event;
  auto publisher_configured = request(cam, R"({"request":"configure","bitrate":100000})");
  EXPECT_EQ(str(publisher_configured.event, "result"), "configured") << publisher_configured.event;
  auto hung = request(v, R"({"request":"hangup"})");
  EXPECT_EQ(str(hung.event, "result"), "hangingup") << hung.event;
  // Without a role they fail as in open mode (nothing to start or configure), not with 1020.
  janus_plugin_session* idle = attach();
  EXPECT_EQ(code(request(idle, R"({"request":"start"})", jsep("answer", "v=0\r\n")).event), 1012);
  EXPECT_EQ(code(request(idle, R"({"request":"configure"})").event), 1012);
  for (auto* h : {idle, v, cam}) detach(h);
}

TEST_F(AccessRequestsTest, ATokenThatExpiresDuringASessionDoesNotEndIt) {
  janus_plugin_session* cam = attach();
  const std::string short_lived = token(kOperator, 60);
  auto published = request(
      cam, with_token(R"({"request":"publish","device_id":"cam-1"})", short_lived), jsep("offer"));
  ASSERT_EQ(str(published.event, "result"), "publishing") << published.event;
  plugin->setup_media(cam);
  janus_plugin_session* v = viewer("cam-1");
  now += 3600;  // long past exp + leeway
  // The publisher goes on: its media reaches its viewer, configure needs no token.
  std::array<char, 20> bytes{};
  bytes[0] = static_cast<char>(0x80);
  bytes[1] = 96;
  janus_plugin_rtp packet{};
  packet.mindex = 1;
  packet.video = TRUE;
  packet.buffer = bytes.data();
  packet.length = bytes.size();
  plugin->incoming_rtp(cam, &packet);
  EXPECT_EQ(host.relayed_to(v).size(), 1u);
  EXPECT_EQ(str(request(cam, R"({"request":"configure","keyframe":true})").event, "result"),
            "configured");
  JsonPtr session = plugin->query_session(cam);
  EXPECT_STREQ(json_string_value(json_object_get(session.get(), "role")), "publisher");
  EXPECT_STREQ(json_string_value(json_object_get(session.get(), "state")), "up");
  // What needs the token now is refused: a new watch with it.
  janus_plugin_session* late = attach();
  auto watch =
      refused_at_once(late, with_token(R"({"request":"watch","device_id":"cam-1"})", short_lived));
  EXPECT_EQ(code(watch.event), 1020);
  EXPECT_EQ(str(watch.event, "error"), "unauthorized: token expired");
  for (auto* h : {late, v, cam}) detach(h);
}

TEST_F(AccessRequestsTest, ListInfoAndDevicesNeedTheListGrant) {
  janus_plugin_session* cam = publisher("cam-1");
  const std::string no_list = token(R"({"watch":["*"],"publish":["*"],"echo":true})");
  const std::string id = id_of(cam);
  for (const auto& [body, name] : std::vector<std::pair<std::string, std::string>>{
           {R"({"request":"list"})", "list"},
           {R"({"request":"devices"})", "devices"},
           {R"({"request":"info","media_session":")" + id + R"("})", "info"}}) {
    JsonPtr reply = sync(cam, with_token(body, no_list));
    EXPECT_EQ(code(reply), 1021) << body;
    EXPECT_EQ(reason(reply), "forbidden: the token does not grant " + name + " (list)");
  }
  detach(cam);
}

TEST_F(AccessRequestsTest, InfoOfASessionTheTokenDoesNotCoverIsAnsweredAsAnUnknownOne) {
  janus_plugin_session* cam = publisher("cam-1");
  janus_plugin_session* door = publisher("door-1");
  janus_plugin_session* door_viewer = viewer("door-1");
  janus_plugin_session* echo = attach();
  ASSERT_EQ(
      str(request(echo, with_token(R"({"request":"echo"})", token(kOperator)), jsep("offer")).event,
          "result"),
      "echoing");
  janus_plugin_session* idle = attach();
  const std::string reader = token(R"({"watch":["cam-*"],"list":true})");
  auto info = [&](const std::string& id) {
    return sync(idle, with_token(R"({"request":"info","media_session":")" + id + R"("})", reader));
  };
  JsonPtr covered = info(id_of(cam));
  ASSERT_EQ(code(covered), 0) << dump(covered.get());
  EXPECT_STREQ(
      json_string_value(json_object_get(json_object_get(covered.get(), "session"), "device_id")),
      "cam-1");
  // The reply names the id asked for; with that id swapped, every one is the unknown id's.
  const std::string unknown = "0123456789abcdef";
  auto shape = [](JsonPtr reply, const std::string& id) {
    std::string text = dump(reply.get());
    text.replace(text.find(id), id.size(), "<id>");
    return text;
  };
  const std::string expected = shape(info(unknown), unknown);
  EXPECT_NE(expected.find("1018"), std::string::npos) << expected;
  for (auto* h : {door, door_viewer, echo, idle}) {
    const std::string id = id_of(h);
    EXPECT_EQ(shape(info(id), id), expected) << id;
  }
  // The admin API sees them all.
  for (auto* h : {door, echo, idle}) {
    JsonPtr reply = admin(R"({"request":"info","media_session":")" + id_of(h) + R"("})");
    EXPECT_EQ(code(reply), 0) << dump(reply.get());
  }
  for (auto* h : {idle, echo, door_viewer, door, cam}) detach(h);
}

// Pages a listing to its end with this body (a "cursor" added from the second page on);
// each page's items (by key) and the cursors handed out.
struct Walk {
  std::vector<std::string> items;
  std::vector<std::string> cursors;
  std::vector<std::uint64_t> costs;  // page_entries_read per page
};

class AccessListingsTest : public AccessRequestsTest {
 protected:
  Walk walk(janus_plugin_session* handle, const std::string& body, const std::string& token_text,
            const char* array, const char* key) {
    Walk out;
    std::string cursor;
    for (int pages = 0; pages < 1000; ++pages) {
      JsonPtr request = parse(body);
      if (!cursor.empty()) set(request.get(), "cursor", std::string_view(cursor));
      const std::uint64_t before = page_entries_read;
      JsonPtr page = sync(handle, with_token(dump(request.get()), token_text));
      out.costs.push_back(page_entries_read - before);
      EXPECT_EQ(json_object_get(page.get(), "error_code"), nullptr) << dump(page.get());
      const json_t* items = json_object_get(page.get(), array);
      for (std::size_t i = 0; i < json_array_size(items); ++i) {
        out.items.emplace_back(json_string_value(json_object_get(json_array_get(items, i), key)));
      }
      const json_t* next = json_object_get(page.get(), "next_cursor");
      if (!json_is_string(next)) break;
      cursor = json_string_value(next);
      out.cursors.push_back(cursor);
    }
    return out;
  }
  // What a covered listing must show: the members of these devices, by (device, id).
  std::vector<std::string> members(const std::vector<std::string>& devices,
                                   std::optional<Role> role = std::nullopt) {
    std::vector<std::pair<std::string, std::string>> sessions;
    for (const auto& device_id : devices) {
      auto device = plugin->devices().find(device_id);
      if (!device) continue;
      // The device's endpoints name their sessions by handle.
      auto id_of = [&](janus_plugin_session* handle) {
        auto session = plugin->sessions().find(handle);
        return session ? session->id() : std::string();
      };
      if (auto p = device->producer(); p && (!role || *role == Role::kPublisher)) {
        sessions.emplace_back(device_id, id_of(p->session_handle()));
      }
      if (!role || *role == Role::kViewer) {
        for (const auto& v : *device->consumers())
          sessions.emplace_back(device_id, id_of(v->session_handle()));
      }
    }
    std::sort(sessions.begin(), sessions.end());
    std::vector<std::string> ids;
    for (const auto& [device, id] : sessions) ids.push_back(id);
    return ids;
  }
};

TEST_F(AccessListingsTest, AListingShowsEveryCoveredSessionAndDeviceOnceAndNothingElse) {
  std::vector<janus_plugin_session*> handles;
  // Covered by watch ["cam-*"] + publish ["lobby"]: cam-1, cam-2, cam-3 and lobby. Not: cam,
  // cal-1, door-1, door-2, lobby-2, an echo, an idle handle.
  for (const char* device :
       {"cam-1", "cam-2", "cam-3", "lobby", "cam", "cal-1", "door-1", "door-2", "lobby-2"}) {
    handles.push_back(publisher(device));
  }
  for (const char* device : {"cam-1", "cam-1", "cam-3", "door-1", "lobby", "cam"}) {
    handles.push_back(viewer(device));
  }
  janus_plugin_session* echo = attach();
  request(echo, with_token(R"({"request":"echo"})", token(kOperator)), jsep("offer"));
  handles.push_back(echo);
  handles.push_back(attach());
  const std::string reader = token(R"({"watch":["cam-*"],"publish":["lobby"],"list":true})");
  const std::vector<std::string> covered = {"cam-1", "cam-2", "cam-3", "lobby"};

  for (int limit : {1, 2, 3, 100}) {
    const std::string l = std::to_string(limit);
    Walk devices = walk(handles[0], R"({"request":"devices","limit":)" + l + "}", reader, "devices",
                        "device_id");
    EXPECT_EQ(devices.items, covered) << "limit " << limit;
    Walk list = walk(handles[0], R"({"request":"list","limit":)" + l + "}", reader, "sessions",
                     "media_session");
    EXPECT_EQ(list.items, members(covered)) << "limit " << limit;
    for (const auto& cursor : list.cursors) {
      EXPECT_NE(cursor.find('/'), std::string::npos) << cursor;  // <device_id>/<media_session>
    }
    Walk viewers = walk(handles[0], R"({"request":"list","role":"viewer","limit":)" + l + "}",
                        reader, "sessions", "media_session");
    EXPECT_EQ(viewers.items, members(covered, Role::kViewer)) << "limit " << limit;
    Walk one = walk(handles[0], R"({"request":"list","device_id":"cam-1","limit":)" + l + "}",
                    reader, "sessions", "media_session");
    EXPECT_EQ(one.items, members({"cam-1"})) << "limit " << limit;
  }
  // Nothing for a device the token does not cover, nor for echo sessions: empty pages.
  for (const char* body :
       {R"({"request":"list","device_id":"door-1"})", R"({"request":"list","role":"echo"})"}) {
    JsonPtr page = sync(handles[0], with_token(body, reader));
    EXPECT_EQ(json_array_size(json_object_get(page.get(), "sessions")), 0u) << dump(page.get());
    EXPECT_TRUE(json_is_null(json_object_get(page.get(), "next_cursor")));
  }
  // The admin API still lists everything, by media_session.
  JsonPtr all = admin(R"({"request":"list","limit":1000})");
  EXPECT_EQ(json_array_size(json_object_get(all.get(), "sessions")), handles.size());
  JsonPtr all_devices = admin(R"({"request":"devices"})");
  EXPECT_EQ(json_array_size(json_object_get(all_devices.get(), "devices")), 9u);
  for (auto* h : handles) detach(h);
}

TEST_F(AccessListingsTest, CursorsTheServerCouldNotHaveGivenThisTokenGet1004) {
  std::vector<janus_plugin_session*> handles = {publisher("cam-1"), publisher("door-1")};
  const std::string reader = token(R"({"watch":["cam-*"],"list":true})");
  const std::string id = id_of(handles[0]);
  for (const std::string& body : std::vector<std::string>{
           // open mode's form, for a page in device order
           R"({"request":"list","cursor":")" + id + R"("})",
           // a device the token does not cover
           R"({"request":"list","cursor":"door-1/)" + id + R"("})",
           // another device than the one asked for
           R"({"request":"list","device_id":"cam-2","cursor":"cam-1/)" + id + R"("})",
           R"({"request":"devices","cursor":"door-1"})"}) {
    JsonPtr reply = sync(handles[0], with_token(body, reader));
    EXPECT_EQ(code(reply), 1004) << body << " -> " << dump(reply.get());
  }
  JsonPtr fine =
      sync(handles[0], with_token(R"({"request":"list","cursor":"cam-1/)" + id + R"("})", reader));
  EXPECT_EQ(code(fine), 0) << dump(fine.get());
  // Token mode's form is not open mode's (nor the admin API's).
  JsonPtr admin_reply = admin(R"({"request":"list","cursor":"cam-1/)" + id + R"("})");
  EXPECT_EQ(code(admin_reply), 1004) << dump(admin_reply.get());
  for (auto* h : handles) detach(h);
}

TEST_F(AccessListingsTest, PagingIsStableWhileSessionsComeAndGo) {
  std::vector<janus_plugin_session*> stay;
  for (const char* device : {"cam-1", "cam-2", "cam-3"}) stay.push_back(publisher(device));
  for (const char* device : {"cam-1", "cam-2", "cam-2", "cam-3"}) stay.push_back(viewer(device));
  const std::string reader = token(R"({"watch":["cam-*"],"list":true})");
  std::set<std::string> present;
  for (auto* h : stay) present.insert(id_of(h));
  std::vector<std::string> seen;
  std::vector<janus_plugin_session*> churn;
  std::string cursor;
  for (int pages = 0; pages < 100; ++pages) {
    std::string body = R"({"request":"list","limit":2)";
    if (!cursor.empty()) body += R"(,"cursor":")" + cursor + "\"";
    JsonPtr page = sync(stay[0], with_token(body + "}", reader));
    ASSERT_EQ(code(page), 0) << dump(page.get());
    const json_t* items = json_object_get(page.get(), "sessions");
    for (std::size_t i = 0; i < json_array_size(items); ++i) {
      seen.emplace_back(
          json_string_value(json_object_get(json_array_get(items, i), "media_session")));
    }
    // Between pages: a viewer comes to a device before and after the cursor, one goes.
    churn.push_back(viewer(pages % 2 == 0 ? "cam-1" : "cam-3"));
    if (churn.size() > 2) {
      detach(churn.front());
      churn.erase(churn.begin());
    }
    const json_t* next = json_object_get(page.get(), "next_cursor");
    if (!json_is_string(next)) break;
    cursor = json_string_value(next);
  }
  for (const auto& id : present) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), id), 1) << id;
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a session was listed twice";
  for (auto* h : churn) detach(h);
  for (auto* h : stay) detach(h);
}

// The bound: a token's pages read the devices its patterns cover and their members, never
// what lies outside. Walked before and after 10,000 sessions it does not cover are added
// (publishers and viewers of devices that sort between and around the covered ones, echoes,
// idle handles), every page reads exactly as many entries as before.
TEST_F(AccessListingsTest, APageCostsTheSameWithTenThousandSessionsTheTokenDoesNotCover) {
  PluginConfig config = token_config();
  config.max_sessions = 20000;
  config.queue_size = 20000;
  make_plugin(config);
  std::vector<janus_plugin_session*> handles;
  for (const char* device : {"cam-1", "cam-3", "cam-3a", "cam-3b"}) {
    handles.push_back(publisher(device));
    handles.push_back(viewer(device));
    handles.push_back(viewer(device));
  }
  const std::string reader = token(R"({"watch":["cam-1","cam-3*"],"list":true})");
  const std::vector<std::string> covered = {"cam-1", "cam-3", "cam-3a", "cam-3b"};
  auto walks = [&] {
    return std::vector<Walk>{
        walk(handles[0], R"({"request":"list","limit":2})", reader, "sessions", "media_session"),
        walk(handles[0], R"({"request":"list","limit":5,"role":"viewer"})", reader, "sessions",
             "media_session"),
        walk(handles[0], R"({"request":"devices","limit":1})", reader, "devices", "device_id")};
  };
  const std::vector<Walk> before = walks();
  ASSERT_EQ(before[0].items, members(covered));

  // 10,000 sessions the token does not cover, set up without waiting for each request.
  const std::string op = token(kOperator);
  std::vector<std::string> uncovered_devices;
  for (int i = 0; i < 4000; ++i) {
    static const char* const kPrefixes[] = {"cam-0-", "cam-1x", "cam-2-", "cam-4-", "door-"};
    uncovered_devices.push_back(kPrefixes[i % 5] + std::to_string(i));
  }
  auto wait_active = [&](std::size_t n) {
    for (int i = 0; i < 30000 && plugin->sessions().active() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return plugin->sessions().active();
  };
  const std::size_t base = plugin->sessions().active();
  for (const auto& device : uncovered_devices) {
    janus_plugin_session* h = attach();
    handles.push_back(h);
    plugin->handle_message(
        h, "bulk",
        parse(with_token(R"({"request":"publish","device_id":")" + device + R"("})", op)),
        jsep("offer"));
  }
  ASSERT_EQ(wait_active(base + 4000), base + 4000);
  for (const auto& device : uncovered_devices) {
    janus_plugin_session* h = attach();
    handles.push_back(h);
    plugin->handle_message(
        h, "bulk", parse(with_token(R"({"request":"watch","device_id":")" + device + R"("})", op)),
        nullptr);
  }
  ASSERT_EQ(wait_active(base + 8000), base + 8000);
  for (int i = 0; i < 1000; ++i) {
    janus_plugin_session* h = attach();
    handles.push_back(h);
    plugin->handle_message(h, "bulk", parse(with_token(R"({"request":"echo"})", op)),
                           jsep("offer"));
  }
  ASSERT_EQ(wait_active(base + 9000), base + 9000);
  for (int i = 0; i < 1000; ++i) handles.push_back(attach());
  ASSERT_GE(plugin->sessions().size(), 10000u + base);

  const std::vector<Walk> after = walks();
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].items, before[i].items) << "walk " << i;
    EXPECT_EQ(after[i].costs, before[i].costs) << "walk " << i;
    for (std::uint64_t cost : after[i].costs) EXPECT_LE(cost, 64u) << "walk " << i;
  }
  EXPECT_EQ(after[0].items, members(covered));
  // The walk reads something: a page that read nothing would pass the comparison too.
  EXPECT_GT(before[0].costs.front(), 0u);
  for (auto* h : handles) detach(h);
}

}  // namespace
}  // namespace jmedia
