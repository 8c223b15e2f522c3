// janus.eventhandler.media through its C ABI, as Janus calls it: create() -> the
// janus_eventhandler struct -> init/incoming_event/handle_request/destroy, with the stubbed
// executable symbols (janus_stubs.h). Janus 1.1.2 joins its events thread before it destroys
// event handlers, but the module holds its state the way the others do, so a callback still
// running meets a destroy() that waits for it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "../../common/janus_api.h"
#include "../../common/json.h"
#include "janus_stubs.h"
#include "json_alloc_gate.h"

extern "C" janus_eventhandler* create(void);

namespace jmedia {
namespace {

JsonPtr parse(const char* text) {
  json_error_t error;
  return adopt(json_loads(text, 0, &error));
}

class EventHandlerAbiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handler = create();
    ASSERT_NE(handler, nullptr);
    char folder[] = "/tmp/jmedia-evh-abi-XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    config_dir = folder;
    g_file_set_contents((config_dir + "/janus.eventhandler.media.jcfg").c_str(), "", 0, nullptr);
    testing::stubs::set_config({});
    testing::stubs::clear_log();
  }
  void TearDown() override {
    if (running) handler->destroy();
    std::remove((config_dir + "/janus.eventhandler.media.jcfg").c_str());
    rmdir(config_dir.c_str());
  }
  void init() {
    ASSERT_EQ(handler->init(config_dir.c_str()), 0);
    running = true;
  }
  // handle_request as the admin API's query_eventhandler calls it: request borrowed.
  JsonPtr summary() {
    JsonPtr request = parse(R"({"request":"summary"})");
    return adopt(handler->handle_request(request.get()));
  }
  std::int64_t sessions() {
    return json_integer_value(json_object_get(summary().get(), "sessions"));
  }

  janus_eventhandler* handler = nullptr;
  std::string config_dir;
  bool running = false;
};

constexpr const char* kSessionCreated =
    R"({"type":1,"timestamp":1,"session_id":7,"event":{"name":"created"}})";

TEST_F(EventHandlerAbiTest, TheTrampolinesCountEventsAndAnswerTheAdminApi) {
  EXPECT_EQ(handler->get_api_compatibility(), JANUS_EVENTHANDLER_API_VERSION);
  EXPECT_STREQ(handler->get_package(), "janus.eventhandler.media");
  EXPECT_FALSE(json_is_true(json_object_get(summary().get(), "enabled")));
  init();
  EXPECT_NE(handler->events_mask, 0u) << "init() sets what the core sends";
  EXPECT_TRUE(json_is_true(json_object_get(summary().get(), "enabled")));
  EXPECT_EQ(sessions(), 0);
  // The core lends the event (see eventhandler_abi.cpp): it must survive the call.
  JsonPtr event = parse(kSessionCreated);
  handler->incoming_event(event.get());
  EXPECT_EQ(event->refcount, 1u);
  EXPECT_EQ(sessions(), 1);
  handler->destroy();
  running = false;
  EXPECT_EQ(handler->events_mask, 0u);
  EXPECT_FALSE(json_is_true(json_object_get(summary().get(), "enabled")));
  handler->incoming_event(event.get());  // after destroy: nothing reached
  init();
  EXPECT_EQ(sessions(), 0) << "a new state after init again";
}

// A handle_request that reached the aggregator is held at its first jansson allocation (the
// summary it builds from the aggregator's metrics) while destroy() runs.
TEST_F(EventHandlerAbiTest, DestroyWaitsForARequestStillRunning) {
  init();
  JsonPtr event = parse(kSessionCreated);
  handler->incoming_event(event.get());
  testing::JsonAllocGate gate;
  JsonPtr held_reply;
  std::thread admin([&] {
    JsonPtr request = parse(R"({"request":"summary"})");
    gate.arm_this_thread();
    held_reply = adopt(handler->handle_request(request.get()));
  });
  ASSERT_TRUE(gate.wait_held());
  std::atomic<bool> destroyed{false};
  std::thread stopper([&] {
    handler->destroy();
    destroyed = true;
  });
  EXPECT_TRUE(testing::stubs::wait_for_log("destroy: waiting for 1 callbacks"))
      << "destroy() did not wait for the handle_request inside";
  EXPECT_FALSE(destroyed.load()) << "destroy() returned while handle_request was still inside";
  gate.release();  // the summary goes on reading the aggregator's metrics
  admin.join();
  stopper.join();
  running = false;
  EXPECT_TRUE(destroyed.load());
  ASSERT_NE(held_reply, nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(held_reply.get(), "sessions")), 1);
}

}  // namespace
}  // namespace jmedia
