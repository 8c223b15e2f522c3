// The access section of janus.plugin.media.jcfg: open by default (with a warning), token mode
// only with a usable key, and no way for a bad token setup to end up open.
#include <gtest/gtest.h>
#include <cstdlib>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../common/log.h"
#include "../../plugin/access_config.h"
#include "../../plugin/plugin_config.h"
#include "jwt_mint.h"

namespace jmedia {
namespace {

using testing::KeyPair;

const std::string kAccessConfigSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes

std::vector<std::string>& logged() {
  static std::vector<std::string> lines;
  return lines;
}

class AccessConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logged().clear();
    set_log_sink([](LogLevel level, const char* message) {
      logged().push_back(std::to_string(static_cast<int>(level)) + " " + message);
    });
    std::string pattern = ::testing::TempDir() + "access-config-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    set_log_sink(nullptr);
    std::filesystem::remove_all(dir_);
  }

  std::string write(const std::string& name, const std::string& content) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  static AccessConfigResult load(std::map<std::string, std::string> entries) {
    ConfigValues values(std::move(entries));
    return load_access_config(values);
  }
  // Whether some log line at level holds text.
  static bool logged_at(LogLevel level, const std::string& text) {
    const std::string prefix = std::to_string(static_cast<int>(level)) + " ";
    return std::ranges::any_of(logged(), [&](const std::string& line) {
      return line.rfind(prefix, 0) == 0 && line.find(text) != std::string::npos;
    });
  }

  std::filesystem::path dir_;
};

TEST_F(AccessConfigTest, OpenByDefaultWithAWarning) {
  const AccessConfigResult result = load({});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config.mode, AccessMode::kOpen);
  EXPECT_EQ(result.config.leeway_s, 30);
  EXPECT_TRUE(logged_at(LogLevel::kWarn, "any client may publish and watch any device"));
}

TEST_F(AccessConfigTest, OpenWithAKeyWarnsThatItIsUnused) {
  const AccessConfigResult result = load({{"access.jwt_secret", kAccessConfigSecret}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config.mode, AccessMode::kOpen);
  EXPECT_TRUE(logged_at(LogLevel::kWarn, "it is not used"));
}

TEST_F(AccessConfigTest, AnUnknownModeFails) {
  // Not open either: "tokens" is a typo of a mode that was meant to protect.
  const AccessConfigResult result = load({{"access.mode", "tokens"}});
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("\"open\" or \"token\""), std::string::npos) << result.error;
  EXPECT_TRUE(logged_at(LogLevel::kError, "janus.plugin.media will not start"));
}

TEST_F(AccessConfigTest, TokenModeNeedsExactlyOneKey) {
  const AccessConfigResult none = load({{"access.mode", "token"}});
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.error.find("neither access.jwt_secret"), std::string::npos) << none.error;
  const AccessConfigResult both = load({{"access.mode", "token"},
                                        {"access.jwt_secret", kAccessConfigSecret},
                                        {"access.jwt_public_key", write("k.pem", "x")}});
  EXPECT_FALSE(both.ok());
  EXPECT_NE(both.error.find("set only one"), std::string::npos) << both.error;
}

TEST_F(AccessConfigTest, Hs256Secret) {
  const AccessConfigResult short_secret =
      load({{"access.mode", "token"}, {"access.jwt_secret", kAccessConfigSecret.substr(1)}});
  EXPECT_FALSE(short_secret.ok());
  EXPECT_NE(short_secret.error.find("31 bytes: HS256 needs at least 32"), std::string::npos)
      << short_secret.error;

  const AccessConfigResult result = load({{"access.mode", "token"},
                                          {"access.jwt_secret", kAccessConfigSecret},
                                          {"access.issuer", "app.example"},
                                          {"access.audience", "janus-media"},
                                          {"access.leeway_s", "5"}});
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.config.mode, AccessMode::kToken);
  EXPECT_EQ(result.config.algorithm, JwtAlgorithm::kHS256);
  EXPECT_EQ(result.config.key, kAccessConfigSecret);
  EXPECT_EQ(result.config.issuer, "app.example");
  EXPECT_EQ(result.config.audience, "janus-media");
  EXPECT_EQ(result.config.leeway_s, 5);
  EXPECT_TRUE(logged_at(LogLevel::kInfo, "access mode=token algorithm=HS256"));
  // The secret is never logged, in any line.
  for (const auto& line : logged()) {
    EXPECT_EQ(line.find(kAccessConfigSecret), std::string::npos) << line;
    EXPECT_EQ(line.find(kAccessConfigSecret.substr(0, 16)), std::string::npos) << line;
  }
}

TEST_F(AccessConfigTest, EmptyIssuerAndAudienceAreUnset) {
  const AccessConfigResult result = load({{"access.mode", "token"},
                                          {"access.jwt_secret", kAccessConfigSecret},
                                          {"access.issuer", ""},
                                          {"access.audience", ""}});
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_FALSE(result.config.issuer.has_value());
  EXPECT_FALSE(result.config.audience.has_value());
}

TEST_F(AccessConfigTest, BadLeewayFallsBackWithAProblem) {
  ConfigValues values({{"access.mode", "token"},
                       {"access.jwt_secret", kAccessConfigSecret},
                       {"access.leeway_s", "601"}});
  const AccessConfigResult result = load_access_config(values);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.config.leeway_s, 30);
  ASSERT_EQ(values.problems().size(), 1u);
  EXPECT_NE(values.problems()[0].find("access.leeway_s"), std::string::npos);
}

TEST_F(AccessConfigTest, PublicKeysTellTheAlgorithm) {
  const KeyPair rsa = KeyPair::rsa(2048);
  const AccessConfigResult rs = load(
      {{"access.mode", "token"}, {"access.jwt_public_key", write("rsa.pem", rsa.public_pem())}});
  ASSERT_TRUE(rs.ok()) << rs.error;
  EXPECT_EQ(rs.config.algorithm, JwtAlgorithm::kRS256);
  EXPECT_EQ(rs.config.key, rsa.public_pem());
  EXPECT_EQ(rs.config.key_file, (dir_ / "rsa.pem").string());

  const KeyPair ec = KeyPair::ec("P-256");
  const AccessConfigResult es =
      load({{"access.mode", "token"}, {"access.jwt_public_key", write("ec.pem", ec.public_pem())}});
  ASSERT_TRUE(es.ok()) << es.error;
  EXPECT_EQ(es.config.algorithm, JwtAlgorithm::kES256);
  EXPECT_TRUE(logged_at(LogLevel::kInfo, "algorithm=ES256"));
}

TEST_F(AccessConfigTest, UnusablePublicKeysFail) {
  const auto fails = [&](const std::string& path, const std::string& expected) {
    const AccessConfigResult result =
        load({{"access.mode", "token"}, {"access.jwt_public_key", path}});
    EXPECT_FALSE(result.ok()) << path;
    EXPECT_NE(result.error.find(expected), std::string::npos) << result.error;
    EXPECT_EQ(result.config.mode, AccessMode::kToken);  // never open
  };
  fails((dir_ / "missing.pem").string(), "No such file or directory");
  fails(dir_.string(), "Is a directory");
  fails(write("garbage.pem", "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"),
        "holds no PEM public key");
  const KeyPair rsa = KeyPair::rsa(2048);
  // A private key where the public one belongs: refused, not used to derive the public key.
  fails(write("private.pem", rsa.private_pem()), "holds no PEM public key");
  fails(write("rsa1024.pem", KeyPair::rsa(1024).public_pem()), "RSA key of 1024 bits");
  fails(write("p384.pem", KeyPair::ec("P-384").public_pem()), "not on P-256");
  fails(write("ed25519.pem", KeyPair::ed25519().public_pem()), "neither an RSA nor an EC");
  fails(write("huge.pem", std::string(kMaxKeyFileBytes + 1, '\n') + rsa.public_pem()),
        "larger than 65536 bytes");
}

TEST_F(AccessConfigTest, PluginConfigCarriesTheAccessSection) {
  // Read through load_plugin_config: access.* keys are known (no "unknown setting" warning),
  // and a token mode that cannot start reaches init as access_error.
  ConfigValues good({{"general.shards", "4"},
                     {"access.mode", "token"},
                     {"access.jwt_secret", kAccessConfigSecret},
                     {"access.leeway_s", "10"}});
  const PluginConfig config = load_plugin_config(good);
  EXPECT_TRUE(config.access_error.empty());
  EXPECT_EQ(config.access.mode, AccessMode::kToken);
  EXPECT_EQ(config.access.leeway_s, 10);
  EXPECT_TRUE(good.unread_keys().empty());
  EXPECT_FALSE(logged_at(LogLevel::kWarn, "unknown setting"));

  ConfigValues bad({{"access.mode", "token"}, {"access.jwt_secret", "short"}});
  EXPECT_FALSE(load_plugin_config(bad).access_error.empty());
  ConfigValues typo({{"access.jwt_secert", kAccessConfigSecret}});
  load_plugin_config(typo);
  EXPECT_TRUE(logged_at(LogLevel::kWarn, "unknown setting 'access.jwt_secert'"));
}

}  // namespace
}  // namespace jmedia
