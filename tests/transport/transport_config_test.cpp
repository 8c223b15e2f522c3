#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

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
  EXPECT_TRUE(config.api);
  EXPECT_EQ(config.api_token, "");
  EXPECT_EQ(config.api_admin_token, "");
  EXPECT_EQ(config.api_threads, 0u);
  EXPECT_EQ(listener_threads(config), std::max(1u, std::thread::hardware_concurrency()))
      << "one per core by default";
  EXPECT_EQ(config.connection_limit, 256u);
}

TEST(TransportConfig, RestApiSettings) {
  ConfigValues values({{"general.api", "false"},
                       {"general.api_token", "read-0123456789abcdef"},
                       {"general.api_admin_token", "admin-0123456789abcdef"},
                       {"general.api_threads", "3"},
                       {"general.connection_limit", "1000"}});
  TransportConfig config = load_transport_config(values);
  EXPECT_FALSE(config.api);
  EXPECT_EQ(config.api_token, "read-0123456789abcdef");
  EXPECT_EQ(config.api_admin_token, "admin-0123456789abcdef");
  EXPECT_EQ(listener_threads(config), 3u);
  EXPECT_EQ(config.connection_limit, 1000u);
  EXPECT_TRUE(config.fatal.empty());
  EXPECT_TRUE(values.problems().empty());
  EXPECT_TRUE(values.unread_keys().empty());

  ConfigValues bad({{"general.api_threads", "65"},
                    {"general.connection_limit", "0"},
                    {"general.api", "sometimes"}});
  config = load_transport_config(bad);
  EXPECT_EQ(config.api_threads, 0u);
  EXPECT_EQ(config.connection_limit, 256u);
  EXPECT_TRUE(config.api);
  EXPECT_EQ(bad.problems().size(), 3u);
}

TEST(TransportConfig, TokensNoClientCouldSendOrThatAreTheSameRefuseToStart) {
  ConfigValues space(std::map<std::string, std::string>{{"general.api_token", "two words"}});
  EXPECT_EQ(load_transport_config(space).fatal.size(), 1u);
  ConfigValues control(std::map<std::string, std::string>{{"general.api_admin_token", "a\tb"}});
  EXPECT_EQ(load_transport_config(control).fatal.size(), 1u);
  ConfigValues non_ascii(std::map<std::string, std::string>{{"general.api_token", "caf\xc3\xa9"}});
  EXPECT_EQ(load_transport_config(non_ascii).fatal.size(), 1u);
  ConfigValues same({{"general.api_token", "same-token-0123456789"},
                     {"general.api_admin_token", "same-token-0123456789"}});
  TransportConfig config = load_transport_config(same);
  ASSERT_EQ(config.fatal.size(), 1u);
  EXPECT_NE(config.fatal[0].find("are the same"), std::string::npos) << config.fatal[0];
  // Short tokens only warn.
  ConfigValues short_token(std::map<std::string, std::string>{{"general.api_token", "abc"}});
  EXPECT_TRUE(load_transport_config(short_token).fatal.empty());
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
