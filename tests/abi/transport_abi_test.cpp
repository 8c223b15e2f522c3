// janus.transport.prometheus through its C ABI, as Janus calls it: create() -> the
// janus_transport struct -> init/query_transport/send_message/destroy, against a fake
// janus_transport_callbacks and the stubbed executable symbols (janus_stubs.h). Janus 1.1.2
// destroys transports while its requests thread still serves admin requests, so a
// query_transport may be running when destroy() is called.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "../../common/janus_api.h"
#include "../../common/json.h"
#include "../transport/fake_view.h"
#include "../transport/http_client.h"
#include "janus_stubs.h"
#include "json_alloc_gate.h"

extern "C" janus_transport* create(void);

namespace jmedia {
namespace {

using namespace std::chrono_literals;

std::atomic<int> requests{0};

void incoming_request(janus_transport* /*plugin*/, janus_transport_session* /*transport*/,
                      void* /*request_id*/, gboolean /*admin*/, json_t* message,
                      json_error_t* /*error*/) {
  ++requests;
  json_decref(message);
}
void transport_gone(janus_transport* /*plugin*/, janus_transport_session* /*transport*/) {}
gboolean is_api_secret_needed(janus_transport* /*plugin*/) {
  return FALSE;
}
gboolean is_api_secret_valid(janus_transport* /*plugin*/, const char* /*secret*/) {
  return TRUE;
}
gboolean is_auth_token_needed(janus_transport* /*plugin*/) {
  return FALSE;
}
gboolean is_auth_token_valid(janus_transport* /*plugin*/, const char* /*token*/) {
  return TRUE;
}
gboolean events_is_enabled() {
  return FALSE;
}
void notify_event(janus_transport* /*plugin*/, void* /*transport*/, json_t* /*event*/) {}

janus_transport_callbacks callbacks = {
    .incoming_request = incoming_request,
    .transport_gone = transport_gone,
    .is_api_secret_needed = is_api_secret_needed,
    .is_api_secret_valid = is_api_secret_valid,
    .is_auth_token_needed = is_auth_token_needed,
    .is_auth_token_valid = is_auth_token_valid,
    .events_is_enabled = events_is_enabled,
    .notify_event = notify_event,
};

// A loopback port nobody listens on now.
std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  std::uint16_t port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

constexpr const char* kIp = "127.0.0.1";

class TransportAbiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport = create();
    ASSERT_NE(transport, nullptr);
    char folder[] = "/tmp/jmedia-transport-abi-XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    config_dir = folder;
    g_file_set_contents((config_dir + "/janus.transport.prometheus.jcfg").c_str(), "", 0, nullptr);
    port = free_port();
    ASSERT_NE(port, 0);
    testing::stubs::set_config({{"general.ip", kIp},
                                {"general.port", std::to_string(port)},
                                {"general.candidate_cap", "false"}});
    testing::stubs::clear_log();
  }
  void TearDown() override {
    if (running) transport->destroy();
    std::remove((config_dir + "/janus.transport.prometheus.jcfg").c_str());
    rmdir(config_dir.c_str());
  }
  void init() {
    ASSERT_EQ(transport->init(&callbacks, config_dir.c_str()), 0);
    running = true;
  }
  // query_transport as the admin API calls it: request borrowed, reply the core's.
  JsonPtr query() {
    JsonPtr request = adopt(json_object());
    return adopt(transport->query_transport(request.get()));
  }

  janus_transport* transport = nullptr;
  std::string config_dir;
  std::uint16_t port = 0;
  bool running = false;
};

TEST_F(TransportAbiTest, TheTrampolinesServeAndAnswerTheAdminApi) {
  EXPECT_EQ(transport->get_api_compatibility(), JANUS_TRANSPORT_API_VERSION);
  EXPECT_STREQ(transport->get_package(), "janus.transport.prometheus");
  EXPECT_FALSE(transport->is_janus_api_enabled());
  EXPECT_FALSE(transport->is_admin_api_enabled());
  EXPECT_FALSE(json_is_true(json_object_get(query().get(), "running")));
  init();
  JsonPtr reply = query();
  EXPECT_TRUE(json_is_true(json_object_get(reply.get(), "running")));
  EXPECT_STREQ(json_string_value(json_object_get(reply.get(), "ip")), kIp);
  EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "port")), port);
  std::string error;
  auto health = testing::http_request(port, "GET", "/healthz", {}, error);
  ASSERT_TRUE(health) << error;
  EXPECT_EQ(health->status, 200);
  // The transport owns what send_message hands it, addressed to it or not.
  transport->send_message(nullptr, nullptr, FALSE, json_pack("{s:s}", "janus", "event"));
  transport->send_message(nullptr, reinterpret_cast<void*>(42), TRUE, json_object());
  transport->destroy();
  running = false;
  EXPECT_FALSE(json_is_true(json_object_get(query().get(), "running")));
  EXPECT_FALSE(testing::http_request(port, "GET", "/healthz", {}, error, 1000))
      << "the server stops with destroy()";
  // init again after destroy works (a new state).
  init();
  EXPECT_TRUE(json_is_true(json_object_get(query().get(), "running")));
  EXPECT_EQ(requests.load(), 0) << "no candidate cap, no injected request";
}

// The session REST API on the same listener: 503 while no media plugin published its view,
// its answers once one did, and the start-up log says who may use it.
TEST_F(TransportAbiTest, TheRestApiIsServedFromThePublishedView) {
  init();
  EXPECT_TRUE(testing::stubs::log_contains(
      "session REST API on /api/media/: reads are served to loopback clients only"));
  EXPECT_TRUE(testing::stubs::log_contains("janus.plugin.media is not loaded: it answers 503"));
  std::string error;
  auto alone = testing::http_request(port, "GET", "/api/media/sessions", {}, error);
  ASSERT_TRUE(alone) << error;
  EXPECT_EQ(alone->status, 503);
  EXPECT_EQ(alone->header("content-type"), "application/json");
  {
    testing::FakeView view;
    ASSERT_TRUE(view.publish());
    auto served = testing::http_request(port, "GET", "/api/media/sessions?limit=3", {}, error);
    ASSERT_TRUE(served) << error;
    EXPECT_EQ(served->status, 200);
    EXPECT_EQ(view.last_call(), R"(read {"limit":3,"request":"list"})");
    auto metrics = testing::http_request(port, "GET", "/metrics", {}, error);
    ASSERT_TRUE(metrics) << error;
    EXPECT_EQ(testing::sample_value(metrics->body,
                                    "janus_transport_api_requests_total{route="
                                    "\"sessions\",method=\"GET\",code=\"200\"}"),
              1)
        << "the API's metrics are in the scrape";
    EXPECT_EQ(testing::sample_value(metrics->body,
                                    "janus_transport_api_requests_total{route="
                                    "\"sessions\",method=\"GET\",code=\"503\"}"),
              1);
  }
  transport->destroy();
  running = false;
  // api = false: no API on the listener.
  testing::stubs::set_config({{"general.ip", kIp},
                              {"general.port", std::to_string(port)},
                              {"general.candidate_cap", "false"},
                              {"general.api", "false"}});
  testing::stubs::clear_log();
  init();
  EXPECT_TRUE(testing::stubs::log_contains("session REST API: off"));
  auto off = testing::http_request(port, "GET", "/api/media/sessions", {}, error);
  ASSERT_TRUE(off) << error;
  EXPECT_EQ(off->status, 404);
  auto scrape = testing::http_request(port, "GET", "/metrics", {}, error);
  ASSERT_TRUE(scrape) << error;
  EXPECT_EQ(scrape->body.find("janus_transport_api_requests_total"), std::string::npos);
}

// A query_transport that read the state before destroy() cleared it is held at a jansson
// allocation (copying the state's ip into the reply) while destroy() runs.
TEST_F(TransportAbiTest, DestroyWaitsForAQueryStillRunning) {
  init();
  testing::JsonAllocGate gate;
  JsonPtr held_reply;
  std::thread admin([&] {
    gate.arm_this_thread(std::char_traits<char>::length(kIp) + 1);
    held_reply = query();
  });
  ASSERT_TRUE(gate.wait_held());
  std::atomic<bool> destroyed{false};
  std::thread stopper([&] {
    transport->destroy();
    destroyed = true;
  });
  EXPECT_TRUE(testing::stubs::wait_for_log("destroy: waiting for 1 callbacks"))
      << "destroy() did not wait for the query_transport inside";
  EXPECT_FALSE(destroyed.load()) << "destroy() returned while query_transport was still inside";
  EXPECT_FALSE(json_is_true(json_object_get(query().get(), "running")))
      << "a new query must find the transport gone";
  gate.release();  // the query goes on reading the state: port, auth, the cap
  admin.join();
  stopper.join();
  running = false;
  EXPECT_TRUE(destroyed.load());
  ASSERT_NE(held_reply, nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(held_reply.get(), "port")), port);
}

// The core's requests thread(s) keep asking while destroy() runs, round after round.
TEST_F(TransportAbiTest, DestroyRacesQueriesOnOtherThreads) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    init();
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::vector<std::thread> threads;
    threads.reserve(3);
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        while (!stop.load()) {
          JsonPtr reply = query();
          if (reply != nullptr) ++answered;
        }
      });
    }
    for (int i = 0; i < 10000 && answered.load() < 100; ++i) std::this_thread::sleep_for(100us);
    transport->destroy();
    running = false;
    const int at_destroy = answered.load();
    for (int i = 0; i < 10000 && answered.load() < at_destroy + 100; ++i) {
      std::this_thread::sleep_for(100us);
    }
    stop = true;
    for (auto& thread : threads) thread.join();
    EXPECT_GT(answered.load(), at_destroy);
    EXPECT_FALSE(json_is_true(json_object_get(query().get(), "running")));
  }
}

}  // namespace
}  // namespace jmedia
