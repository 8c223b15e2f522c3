#include "../../cluster/cluster_config.h"

#include <gtest/gtest.h>

namespace jmedia::cluster {
namespace {

const std::string kConfigSecret(32, 's');

ClusterConfigResult load(std::map<std::string, std::string> values) {
  ConfigValues config(std::move(values));
  return load_cluster_config(config);
}

TEST(ClusterConfigTest, WithoutRedisTheNodeIsAlone) {
  auto result = load({});
  EXPECT_TRUE(result.error.empty());
  EXPECT_FALSE(result.config.enabled);
}

TEST(ClusterConfigTest, AValidSectionIsRead) {
  auto result = load({{"cluster.redis", "127.0.0.1:6379"},
                      {"cluster.node_id", "node-1"},
                      {"cluster.secret", kConfigSecret},
                      {"cluster.advertise_host", "10.0.0.5"},
                      {"cluster.relay_ports", "21000-21999"},
                      {"cluster.heartbeat_ms", "200"},
                      {"cluster.node_ttl_ms", "1000"}});
  ASSERT_EQ(result.error, "");
  EXPECT_TRUE(result.config.enabled);
  EXPECT_EQ(result.config.redis.host, "127.0.0.1");
  EXPECT_EQ(result.config.redis.port, 6379);
  EXPECT_EQ(result.config.relay_port_min, 21000);
  EXPECT_EQ(result.config.relay_port_max, 21999);
  EXPECT_EQ(result.config.heartbeat_ms, 200);
  EXPECT_EQ(result.config.node_ttl_ms, 1000);
}

TEST(ClusterConfigTest, EndpointsAreHostPortOrASocketPath) {
  Endpoint endpoint;
  EXPECT_TRUE(parse_endpoint("/run/redis/redis.sock", endpoint));
  EXPECT_TRUE(endpoint.unix_socket());
  EXPECT_TRUE(parse_endpoint("[::1]:6380", endpoint));
  EXPECT_EQ(endpoint.host, "::1");
  EXPECT_EQ(endpoint.text(), "[::1]:6380");
  for (const char* bad : {"", "redis", "host:", "host:0", "host:70000", "::1:6379", "a b:1"}) {
    EXPECT_FALSE(parse_endpoint(bad, endpoint)) << bad;
  }
}

TEST(ClusterConfigTest, RedisWithoutAValidNodeIdOrSecretFailsClosed) {
  EXPECT_NE(load({{"cluster.redis", "127.0.0.1:6379"}, {"cluster.secret", kConfigSecret}}).error,
            "");
  EXPECT_NE(load({{"cluster.redis", "127.0.0.1:6379"},
                  {"cluster.node_id", "bad:id"},
                  {"cluster.secret", kConfigSecret}})
                .error,
            "");
  EXPECT_NE(load({{"cluster.redis", "127.0.0.1:6379"}, {"cluster.node_id", "n1"}}).error, "");
  const auto short_secret = load(
      {{"cluster.redis", "127.0.0.1:6379"}, {"cluster.node_id", "n1"}, {"cluster.secret", "x"}});
  EXPECT_NE(short_secret.error.find("at least 32"), std::string::npos) << short_secret.error;
  EXPECT_NE(load({{"cluster.redis", "nowhere"},
                  {"cluster.node_id", "n1"},
                  {"cluster.secret", kConfigSecret}})
                .error,
            "");
}

TEST(ClusterConfigTest, RelaySettingsAndTimingsAreValidated) {
  auto base = [](std::string key, std::string value) {
    std::map<std::string, std::string> values{{"cluster.redis", "127.0.0.1:6379"},
                                              {"cluster.node_id", "n1"},
                                              {"cluster.secret", kConfigSecret}};
    values[key] = value;
    return values;
  };
  EXPECT_NE(load(base("cluster.relay_ports", "21000")).error, "");
  EXPECT_NE(load(base("cluster.relay_ports", "22000-21000")).error, "");
  EXPECT_NE(load(base("cluster.advertise_host", "a host")).error, "");
  EXPECT_EQ(load(base("cluster.test_relay_drop_percent", "5")).config.test_relay_drop_percent, 5);
  EXPECT_EQ(load({}).config.test_relay_drop_percent, 0);
  {
    ConfigValues config(base("cluster.test_relay_drop_percent", "150"));
    const auto result = load_cluster_config(config);
    EXPECT_EQ(result.config.test_relay_drop_percent, 0);  // out of 0-100: the default, warned
    EXPECT_EQ(config.problems().size(), 1u);
  }
  EXPECT_EQ(load({}).config.relay_linger_s, 10);
  EXPECT_EQ(load(base("cluster.relay_linger_s", "0")).config.relay_linger_s, 0);
  EXPECT_EQ(load(base("cluster.relay_linger_s", "3600")).config.relay_linger_s, 3600);
  for (const char* bad : {"3601", "-1", "soon"}) {
    ConfigValues config(base("cluster.relay_linger_s", bad));
    const auto result = load_cluster_config(config);
    EXPECT_EQ(result.config.relay_linger_s, 10) << bad;  // out of 0-3600: the default, warned
    ASSERT_EQ(config.problems().size(), 1u) << bad;
    EXPECT_NE(config.problems()[0].find("relay_linger_s"), std::string::npos)
        << config.problems()[0];
  }
  // A TTL under two heartbeats would let a live claim expire.
  auto values = base("cluster.heartbeat_ms", "1000");
  values["cluster.node_ttl_ms"] = "1500";
  EXPECT_NE(load(values).error, "");
}

}  // namespace
}  // namespace jmedia::cluster
