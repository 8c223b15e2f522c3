#include <gtest/gtest.h>

#include "../../common/config_values.h"
#include "../../transport/transport_config.h"

namespace jmedia::transport {
namespace {

TEST(TransportConfig, DefaultsWhenEmpty) {
  ConfigValues values;
  TransportConfig config = load_transport_config(values);
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.ip, "127.0.0.1");
  EXPECT_EQ(config.port, 30006);
  EXPECT_EQ(describe(config.auth), "none");
  EXPECT_TRUE(config.fatal.empty());
  EXPECT_TRUE(values.problems().empty());
  EXPECT_TRUE(config.candidate_cap);
  EXPECT_EQ(config.pending_trickles_check_ms, 1000u);
  EXPECT_EQ(config.pending_trickles_checks_per_round, 500u);
  EXPECT_EQ(config.pending_trickles_sweep_mb, 16u);
}

TEST(TransportConfig, CandidateCapSettings) {
  ConfigValues values({{"general.candidate_cap", "no"},
                       {"general.pending_trickles_check_ms", "0"},
                       {"general.pending_trickles_checks_per_round", "20"},
                       {"general.pending_trickles_sweep_mb", "0"}});
  TransportConfig config = load_transport_config(values);
  EXPECT_FALSE(config.candidate_cap);
  EXPECT_EQ(config.pending_trickles_check_ms, 0u);  // off
  EXPECT_EQ(config.pending_trickles_checks_per_round, 20u);
  EXPECT_EQ(config.pending_trickles_sweep_mb, 0u);  // off
  EXPECT_TRUE(values.problems().empty());
  EXPECT_TRUE(values.unread_keys().empty());

  ConfigValues too_fast(
      std::map<std::string, std::string>{{"general.pending_trickles_check_ms", "10"}});
  EXPECT_EQ(load_transport_config(too_fast).pending_trickles_check_ms, 50u);
  ConfigValues bad({{"general.pending_trickles_check_ms", "-1"},
                    {"general.pending_trickles_checks_per_round", "0"},
                    {"general.candidate_cap", "perhaps"},
                    {"general.pending_trickles_sweep_mb", "70000"}});
  config = load_transport_config(bad);
  EXPECT_EQ(config.pending_trickles_check_ms, 1000u);
  EXPECT_EQ(config.pending_trickles_checks_per_round, 500u);
  EXPECT_TRUE(config.candidate_cap);
  EXPECT_EQ(config.pending_trickles_sweep_mb, 16u);
  EXPECT_EQ(bad.problems().size(), 4u);
}

TEST(TransportConfig, ValidValuesAreUsed) {
  ConfigValues values({{"general.enabled", "no"},
                       {"general.ip", "::1"},
                       {"general.port", "9100"},
                       {"general.bearer_token", "tok"},
                       {"general.basic_user", "u"},
                       {"general.basic_password", "p"}});
  TransportConfig config = load_transport_config(values);
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.ip, "::1");
  EXPECT_EQ(config.port, 9100);
  EXPECT_EQ(config.auth.bearer_token, "tok");
  EXPECT_EQ(describe(config.auth), "bearer+basic");
  EXPECT_TRUE(config.fatal.empty());
  EXPECT_TRUE(values.problems().empty());
}

TEST(TransportConfig, BadValuesFallBackToDefaults) {
  ConfigValues values(
      {{"general.enabled", "maybe"}, {"general.ip", "localhost"}, {"general.port", "70000"}});
  TransportConfig config = load_transport_config(values);
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.ip, "127.0.0.1");
  EXPECT_EQ(config.port, 30006);
  EXPECT_EQ(values.problems().size(), 2u);  // enabled and port (ip is checked here)
  EXPECT_TRUE(config.fatal.empty());
}

TEST(TransportConfig, PortZeroIsRejected) {
  ConfigValues values(std::map<std::string, std::string>{{"general.port", "0"}});
  EXPECT_EQ(load_transport_config(values).port, 30006);
  EXPECT_EQ(values.problems().size(), 1u);
}

TEST(TransportConfig, AnIncompleteBasicPairRefusesToStart) {
  ConfigValues user_only(std::map<std::string, std::string>{{"general.basic_user", "u"}});
  EXPECT_EQ(load_transport_config(user_only).fatal.size(), 1u);
  ConfigValues password_only(std::map<std::string, std::string>{{"general.basic_password", "p"}});
  EXPECT_EQ(load_transport_config(password_only).fatal.size(), 1u);
  ConfigValues colon({{"general.basic_user", "a:b"}, {"general.basic_password", "p"}});
  EXPECT_EQ(load_transport_config(colon).fatal.size(), 1u);
}

}  // namespace
}  // namespace jmedia::transport
