// scripts/token (Python standard library) against TokenVerifier: what operators and the
// end-to-end tests mint must verify here, grant what was asked, and fail where it should.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include <array>
#include <string>

#include "../../plugin/token_verifier.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

const std::string kScriptSecret = "scripts-token-test-secret-0123456789";

struct ScriptRun {
  int status = -1;
  std::string out;
};

// Runs scripts/token with args (shell-quoted by the caller) through Debian's python3, with
// JANUS_MEDIA_JWT_SECRET set to secret_env, or unset when that is empty.
ScriptRun token(const std::string& args, const std::string& secret_env = "") {
  const std::string env = secret_env.empty() ? "env -u JANUS_MEDIA_JWT_SECRET"
                                             : "env JANUS_MEDIA_JWT_SECRET=" + secret_env;
  const std::string command =
      env + " /usr/bin/python3 " JMEDIA_SOURCE_DIR "/scripts/token " + args + " 2>/dev/null";
  ScriptRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.out.append(buffer.data(), got);
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!run.out.empty() && (run.out.back() == '\n' || run.out.back() == '\r')) run.out.pop_back();
  return run;
}

AccessConfig config(std::optional<std::string> issuer = std::nullopt,
                    std::optional<std::string> audience = std::nullopt) {
  return testing::hs256_access(kScriptSecret, std::move(issuer), std::move(audience));
}

TEST(TokenScript, MintsWhatTheVerifierAccepts) {
  const ScriptRun run = token("--secret " + kScriptSecret +
                              " --publish cam-1 --watch 'cam-*' --watch door-1 --list --echo"
                              " --ttl 3600 --sub operator --iss app.example --aud janus-media");
  ASSERT_EQ(run.status, 0) << run.out;
  const TokenVerifier verifier(config("app.example", "janus-media"));
  const TokenResult result = verifier.verify(run.out, TokenVerifier::Clock::now());
  ASSERT_TRUE(std::holds_alternative<Grants>(result)) << std::get<TokenRefused>(result).reason;
  const auto& grants = std::get<Grants>(result);
  EXPECT_TRUE(grants.allows(AccessRequest::kPublish, "cam-1"));
  EXPECT_FALSE(grants.allows(AccessRequest::kPublish, "cam-2"));
  EXPECT_TRUE(grants.allows(AccessRequest::kWatch, "cam-7"));
  EXPECT_TRUE(grants.allows(AccessRequest::kWatch, "door-1"));
  EXPECT_FALSE(grants.allows(AccessRequest::kWatch, "door-2"));
  EXPECT_TRUE(grants.allows(AccessRequest::kEcho));
  EXPECT_TRUE(grants.allows(AccessRequest::kList));
  EXPECT_EQ(grants.sub, "operator");
  // exp is --ttl from now: an hour and a minute later (leeway 30 s) it has expired.
  const TokenResult later =
      verifier.verify(run.out, TokenVerifier::Clock::now() + std::chrono::seconds(3660));
  ASSERT_TRUE(std::holds_alternative<TokenRefused>(later));
  EXPECT_EQ(std::get<TokenRefused>(later).refusal, Refusal::kExpired);
}

TEST(TokenScript, DefaultsGrantNothingAndAnotherSecretFails) {
  const ScriptRun run = token("--secret " + kScriptSecret);
  ASSERT_EQ(run.status, 0);
  const TokenResult result = TokenVerifier(config()).verify(run.out, TokenVerifier::Clock::now());
  ASSERT_TRUE(std::holds_alternative<Grants>(result)) << std::get<TokenRefused>(result).reason;
  EXPECT_FALSE(std::get<Grants>(result).allows(AccessRequest::kEcho));
  EXPECT_FALSE(std::get<Grants>(result).allows(AccessRequest::kList));

  AccessConfig other = config();
  other.key = kScriptSecret + "-other";
  const TokenResult wrong = TokenVerifier(other).verify(run.out, TokenVerifier::Clock::now());
  ASSERT_TRUE(std::holds_alternative<TokenRefused>(wrong));
  EXPECT_EQ(std::get<TokenRefused>(wrong).reason, "bad signature");
}

TEST(TokenScript, SecretFromTheEnvironmentAndExpiredTokens) {
  EXPECT_EQ(token("--watch cam-1").status, 2) << "no secret anywhere must fail";
  EXPECT_EQ(token("--watch cam-1 --secret ''").status, 2) << "an empty secret must fail";
  // scripts/run's JANUS_MEDIA_JWT_SECRET stands in for --secret; a negative ttl mints a token
  // that has expired already (for tests).
  const ScriptRun expired = token("--ttl -120 --watch cam-1", kScriptSecret);
  ASSERT_EQ(expired.status, 0);
  const TokenResult result =
      TokenVerifier(config()).verify(expired.out, TokenVerifier::Clock::now());
  ASSERT_TRUE(std::holds_alternative<TokenRefused>(result));
  EXPECT_EQ(std::get<TokenRefused>(result).refusal, Refusal::kExpired);
}

TEST(TokenScript, RefusesWhatThePluginWouldRefuse) {
  EXPECT_EQ(token("--secret short --watch cam-1").status, 2);
  EXPECT_EQ(token("--secret " + kScriptSecret + " --watch 'c*m'").status, 2);
  EXPECT_EQ(token("--secret " + kScriptSecret + " --publish 'cam 1'").status, 2);
  std::string many;
  for (int i = 0; i <= 64; ++i) many += " --watch cam-" + std::to_string(i);
  EXPECT_EQ(token("--secret " + kScriptSecret + many).status, 2);
}

}  // namespace
}  // namespace jmedia
