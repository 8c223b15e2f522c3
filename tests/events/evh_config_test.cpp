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
  EXPECT_EQ(config.max_ice_candidates, 50u);
  EXPECT_EQ(config.cap_scope, runtime::CapScope::kAll);
  EXPECT_TRUE(config.cap_enabled());
  EXPECT_TRUE(values.problems().empty());
  EXPECT_EQ(describe_events_mask(kDefaultEventsMask),
            "sessions,handles,jsep,webrtc,media,transports,core");
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

TEST(EvhConfig, TheCandidateCapSettings) {
  ConfigValues values(Map{{"general.max_ice_candidates", "200"}, {"general.cap_scope", " Media "}});
  EventHandlerConfig config = load_evh_config(values);
  EXPECT_EQ(config.max_ice_candidates, 200u);
  EXPECT_EQ(config.cap_scope, runtime::CapScope::kMedia);
  EXPECT_TRUE(values.problems().empty());
  EXPECT_TRUE(values.unread_keys().empty());

  ConfigValues off(Map{{"general.max_ice_candidates", "0"}, {"general.cap_scope", "all"}});
  config = load_evh_config(off);
  EXPECT_EQ(config.max_ice_candidates, 0u);
  EXPECT_EQ(config.cap_scope, runtime::CapScope::kAll);
  EXPECT_FALSE(config.cap_enabled());

  ConfigValues bad(Map{{"general.max_ice_candidates", "100001"}, {"general.cap_scope", "some"}});
  config = load_evh_config(bad);
  EXPECT_EQ(config.max_ice_candidates, 50u);
  EXPECT_EQ(config.cap_scope, runtime::CapScope::kAll);
  EXPECT_EQ(bad.problems().size(), 1u);  // the integer (cap_scope is checked and logged here)
  ConfigValues negative(Map{{"general.max_ice_candidates", "-5"}});
  EXPECT_EQ(load_evh_config(negative).max_ice_candidates, 50u);

  EXPECT_EQ(parse_cap_scope("ALL"), runtime::CapScope::kAll);
  EXPECT_EQ(parse_cap_scope("media"), runtime::CapScope::kMedia);
  EXPECT_FALSE(parse_cap_scope(""));
  EXPECT_FALSE(parse_cap_scope("janus.plugin.media"));
}

TEST(EvhConfig, TheCapNeedsHandleAndWebrtcEvents) {
  ConfigValues values(Map{{"general.events", "sessions,webrtc"}});
  EXPECT_FALSE(load_evh_config(values).cap_enabled());
  ConfigValues enough(Map{{"general.events", "handles,webrtc"}});
  EXPECT_TRUE(load_evh_config(enough).cap_enabled());
  ConfigValues disabled(Map{{"general.enabled", "false"}});
  EXPECT_FALSE(load_evh_config(disabled).cap_enabled());
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
