#include <gtest/gtest.h>

#include "../../edge/edge_config.h"
#include "../unit/log_capture.h"

namespace jmedia::edge {
namespace {

TEST(EdgeConfigTest, DefaultsAreTheIssuesNumbers) {
  ConfigValues values;
  const EdgeConfig config = load_edge_config(values);
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.ws.port, 8188);
  EXPECT_EQ(config.http.port, 8088);
  EXPECT_EQ(config.ws.ip, "127.0.0.1");
  EXPECT_EQ(config.http_base_path, "/janus");
  EXPECT_EQ(config.max_queued_messages, 256u);
  EXPECT_EQ(config.max_queued_bytes, 1u << 20);
  EXPECT_EQ(config.send_timeout_ms, 1000u);
  EXPECT_EQ(config.max_message_bytes, 256u * 1024);
  EXPECT_EQ(config.max_requests_per_s, 100u);
  EXPECT_EQ(config.request_burst, 200u);
  EXPECT_EQ(config.ping_interval_s, 30u);
  EXPECT_EQ(config.pong_timeout_s, 10u);
  EXPECT_EQ(config.max_pending_handshakes, 256u);
  EXPECT_TRUE(config.fatal.empty());
}

TEST(EdgeConfigTest, EachKeyIsReadFromItsSection) {
  ConfigValues values({{"ws.port", "9001"},
                       {"ws.ip", "::1"},
                       {"http.enabled", "false"},
                       {"http.base_path", "/api"},
                       {"limits.max_queued_messages", "16"},
                       {"limits.max_requests_per_s", "5"},
                       {"limits.request_burst", "7"},
                       {"limits.ping_interval_s", "0"},
                       {"limits.max_pending_handshakes", "8"}});
  const EdgeConfig config = load_edge_config(values);
  EXPECT_EQ(config.ws.port, 9001);
  EXPECT_EQ(config.ws.ip, "::1");
  EXPECT_FALSE(config.http.enabled);
  EXPECT_EQ(config.http_base_path, "/api");
  EXPECT_EQ(config.max_queued_messages, 16u);
  EXPECT_EQ(config.max_requests_per_s, 5u);
  EXPECT_EQ(config.request_burst, 7u);
  EXPECT_EQ(config.ping_interval_s, 0u);
  EXPECT_EQ(config.max_pending_handshakes, 8u);
}

TEST(EdgeConfigTest, BadValuesAreLoggedAndTheDefaultIsUsed) {
  testing::LogCapture log;
  ConfigValues values({{"ws.port", "0"},
                       {"ws.ip", "localhost"},
                       {"http.base_path", "janus/"},
                       {"limits.max_message_bytes", "12"},
                       {"limits.send_timeout_ms", "soon"},
                       {"limits.max_pending_handshakes", "65536"},
                       {"limits.typo", "1"}});
  const EdgeConfig config = load_edge_config(values);
  EXPECT_EQ(config.ws.port, 8188);
  EXPECT_EQ(config.ws.ip, "127.0.0.1");
  EXPECT_EQ(config.http_base_path, "/janus");
  EXPECT_EQ(config.max_message_bytes, 256u * 1024);
  EXPECT_EQ(config.send_timeout_ms, 1000u);
  EXPECT_EQ(config.max_pending_handshakes, 256u);
  EXPECT_TRUE(log.contains("'limits.max_pending_handshakes'"));
  EXPECT_TRUE(log.contains("'ws.port'"));
  EXPECT_TRUE(log.contains("'ws.ip'"));
  EXPECT_TRUE(log.contains("'http.base_path'"));
  EXPECT_TRUE(log.contains("'limits.max_message_bytes'"));
  EXPECT_TRUE(log.contains("'limits.send_timeout_ms'"));
  EXPECT_TRUE(log.contains("unknown setting 'limits.typo'"));
  EXPECT_TRUE(log.contains("config: enabled=true"));  // the values in force, in one line
}

TEST(EdgeConfigTest, ABurstBelowTheRateIsRaisedToIt) {
  testing::LogCapture log;
  ConfigValues values({{"limits.max_requests_per_s", "50"}, {"limits.request_burst", "10"}});
  EXPECT_EQ(load_edge_config(values).request_burst, 50u);
  EXPECT_TRUE(log.contains("'limits.request_burst' (10) is below"));
}

TEST(EdgeConfigTest, TheHoldOfHangupsIsReadValidatedAndLogged) {
  {
    testing::LogCapture log;
    ConfigValues values;
    const EdgeConfig config = load_edge_config(values);
    EXPECT_EQ(config.hold_timeout_ms, 3000u);
    EXPECT_EQ(config.max_held_per_handle, 32u);
    EXPECT_EQ(config.max_held_requests, 4096u);
    EXPECT_TRUE(log.contains("hold_timeout_ms=3000 max_held_per_handle=32 max_held_requests=4096"));
  }
  {
    testing::LogCapture log;
    ConfigValues values({{"limits.hold_timeout_ms", "40000"}, {"limits.max_held_requests", "0"}});
    const EdgeConfig config = load_edge_config(values);
    EXPECT_EQ(config.hold_timeout_ms, 3000u);
    EXPECT_EQ(config.max_held_requests, 4096u);
    EXPECT_TRUE(log.contains("'limits.hold_timeout_ms'"));
    EXPECT_TRUE(log.contains("'limits.max_held_requests'"));
  }
  {
    testing::LogCapture log;
    ConfigValues values(std::map<std::string, std::string>{{"limits.hold_timeout_ms", "0"}});
    EXPECT_EQ(load_edge_config(values).hold_timeout_ms, 0u);  // never held
  }
  {
    testing::LogCapture log;
    ConfigValues values({{"limits.hold_timeout_ms", "8000"},
                         {"limits.request_timeout_s", "5"},
                         {"limits.max_held_per_handle", "50"},
                         {"limits.max_held_requests", "20"}});
    const EdgeConfig config = load_edge_config(values);
    EXPECT_EQ(config.hold_timeout_ms, 2500u);
    EXPECT_EQ(config.max_held_per_handle, 20u);
    EXPECT_TRUE(log.contains("'limits.hold_timeout_ms' (8000) is not below"));
    EXPECT_TRUE(log.contains("'limits.max_held_per_handle' (50) is above"));
  }
}

TEST(EdgeConfigTest, NothingToServeOrOnePortForBothCannotStart) {
  ConfigValues none({{"ws.enabled", "false"}, {"http.enabled", "false"}});
  EXPECT_FALSE(load_edge_config(none).fatal.empty());
  ConfigValues same({{"ws.port", "9000"}, {"http.port", "9000"}});
  EXPECT_FALSE(load_edge_config(same).fatal.empty());
}

}  // namespace
}  // namespace jmedia::edge
