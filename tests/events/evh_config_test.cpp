// general.* of janus.eventhandler.media.jcfg: defaults, validation, the events list.
#include <gtest/gtest.h>

#include "../../events/evh_config.h"

namespace jmedia::events {
namespace {

using Map = std::map<std::string, std::string>;

TEST(EvhConfig, DefaultsWhenTheFileIsEmpty) {
  ConfigValues values;
  EventHandlerConfig config = load_evh_config(values);
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.events_mask, kDefaultEventsMask);
  EXPECT_EQ(config.max_plugin_series, 16u);
  EXPECT_TRUE(values.problems().empty());
  EXPECT_EQ(describe_events_mask(kDefaultEventsMask),
            "sessions,handles,webrtc,media,transports,core");
}

TEST(EvhConfig, ReadsEverySetting) {
  ConfigValues values(Map{{"general.enabled", "no"},
                          {"general.events", "Sessions, handles ,WEBRTC,jsep"},
                          {"general.max_plugin_series", "3"}});
  EventHandlerConfig config = load_evh_config(values);
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.events_mask, kTypeSession | kTypeHandle | kTypeWebrtc | kTypeJsep);
  EXPECT_EQ(config.max_plugin_series, 3u);
  EXPECT_TRUE(values.problems().empty());
}

TEST(EvhConfig, EventsListsAsJanusAcceptsThem) {
  EXPECT_EQ(parse_events_mask("all", nullptr), kAllTypes);
  EXPECT_EQ(parse_events_mask("none", nullptr), 0u);
  EXPECT_EQ(parse_events_mask("plugins,transports,external,core", nullptr),
            kTypePlugin | kTypeTransport | kTypeExternal | kTypeCore);
  EXPECT_EQ(describe_events_mask(kAllTypes),
            "sessions,handles,external,jsep,webrtc,media,plugins,transports,core");
  EXPECT_EQ(describe_events_mask(0), "none");
}

TEST(EvhConfig, UnknownEventNamesAreReportedAndIgnored) {
  std::vector<std::string> unknown;
  EXPECT_EQ(parse_events_mask("media, bogus, webrtc,", &unknown), kTypeMedia | kTypeWebrtc);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0], "bogus");
}

TEST(EvhConfig, AListWithNothingValidKeepsTheDefault) {
  std::vector<std::string> unknown;
  EXPECT_FALSE(parse_events_mask("", &unknown));
  EXPECT_FALSE(parse_events_mask(" , ", &unknown));
  EXPECT_FALSE(parse_events_mask("session", &unknown));  // singular: not a Janus name
  ConfigValues values(Map{{"general.events", "typo"}});
  EXPECT_EQ(load_evh_config(values).events_mask, kDefaultEventsMask);
}

TEST(EvhConfig, OutOfRangeValuesFallBackToDefaults) {
  ConfigValues values(Map{{"general.max_plugin_series", "257"}, {"general.enabled", "maybe"}});
  EventHandlerConfig config = load_evh_config(values);
  EXPECT_EQ(config.max_plugin_series, 16u);
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(values.problems().size(), 2u);

  ConfigValues zero(Map{{"general.max_plugin_series", "0"}});
  EXPECT_EQ(load_evh_config(zero).max_plugin_series, 0u);  // everything under "other"
  ConfigValues negative(Map{{"general.max_plugin_series", "-1"}});
  EXPECT_EQ(load_evh_config(negative).max_plugin_series, 16u);
}

TEST(EvhConfig, UnknownKeysAreLeftUnread) {
  ConfigValues values(Map{{"general.max_plugins_series", "4"}});
  EventHandlerConfig config = load_evh_config(values);
  EXPECT_EQ(config.max_plugin_series, 16u);
  ASSERT_EQ(values.unread_keys().size(), 1u);
  EXPECT_EQ(values.unread_keys()[0], "general.max_plugins_series");
}

}  // namespace
}  // namespace jmedia::events
