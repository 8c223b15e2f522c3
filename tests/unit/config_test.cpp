#include <gtest/gtest.h>

#include "../../common/config_values.h"
#include "../../plugin/plugin_config.h"

namespace jmedia {
namespace {

TEST(Config, DefaultsWhenEmpty) {
  ConfigValues values;
  PluginConfig config = load_plugin_config(values);
  EXPECT_EQ(config.shards, 32u);
  EXPECT_EQ(config.max_sessions, 10000u);
  EXPECT_EQ(config.queue_size, 256u);
  EXPECT_EQ(config.worker_threads, 2u);
  EXPECT_TRUE(values.problems().empty());
}

TEST(Config, ValidValuesAreUsed) {
  ConfigValues values({{"general.shards", "1"},
                       {"general.max_sessions", "5"},
                       {"general.queue_size", "3"},
                       {"general.worker_threads", "4"}});
  PluginConfig config = load_plugin_config(values);
  EXPECT_EQ(config.shards, 1u);
  EXPECT_EQ(config.max_sessions, 5u);
  EXPECT_EQ(config.queue_size, 3u);
  EXPECT_EQ(config.worker_threads, 4u);
  EXPECT_TRUE(values.problems().empty());
}

TEST(Config, BadValuesFallBackWithAProblemEach) {
  ConfigValues values({{"general.shards", "0"},
                       {"general.max_sessions", "lots"},
                       {"general.queue_size", "-4"},
                       {"general.worker_threads", "2x"}});
  PluginConfig config = load_plugin_config(values);
  EXPECT_EQ(config.shards, 32u);
  EXPECT_EQ(config.max_sessions, 10000u);
  EXPECT_EQ(config.queue_size, 256u);
  EXPECT_EQ(config.worker_threads, 2u);
  ASSERT_EQ(values.problems().size(), 4u);
  EXPECT_NE(values.problems()[0].find("general.shards"), std::string::npos);
  EXPECT_NE(values.problems()[0].find("using default 32"), std::string::npos);
}

TEST(Config, NegotiationTimeout) {
  ConfigValues defaults;
  EXPECT_EQ(load_plugin_config(defaults).negotiation_timeout_s, 60u);
  ConfigValues off(std::map<std::string, std::string>{{"general.negotiation_timeout", "0"}});
  EXPECT_EQ(load_plugin_config(off).negotiation_timeout_s, 0u);
  EXPECT_TRUE(off.problems().empty());
  ConfigValues bad(std::map<std::string, std::string>{{"general.negotiation_timeout", "86401"}});
  EXPECT_EQ(load_plugin_config(bad).negotiation_timeout_s, 60u);
  ASSERT_EQ(bad.problems().size(), 1u);
  EXPECT_NE(bad.problems()[0].find("general.negotiation_timeout"), std::string::npos);
}

TEST(Config, UnknownKeysAreReported) {
  ConfigValues values(std::map<std::string, std::string>{{"general.shardz", "8"}});
  load_plugin_config(values);
  auto unread = values.unread_keys();
  ASSERT_EQ(unread.size(), 1u);
  EXPECT_EQ(unread[0], "general.shardz");
}

TEST(Config, Booleans) {
  ConfigValues values({{"a", "yes"}, {"b", "false"}, {"c", "maybe"}});
  EXPECT_TRUE(values.boolean("a", false));
  EXPECT_FALSE(values.boolean("b", true));
  EXPECT_TRUE(values.boolean("c", true));
  EXPECT_EQ(values.problems().size(), 1u);
}

}  // namespace
}  // namespace jmedia
