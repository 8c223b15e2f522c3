#include <gtest/gtest.h>

#include "../../transport_shared/auth.h"

namespace jmedia::transport {
namespace {

TEST(Auth, ConstantTimeEquals) {
  EXPECT_TRUE(constant_time_equals("secret", "secret"));
  EXPECT_FALSE(constant_time_equals("secret", "secreT"));
  EXPECT_FALSE(constant_time_equals("secret", "secre"));
  EXPECT_FALSE(constant_time_equals("secret", "secretsecret"));  // the cyclic comparison matches
  EXPECT_FALSE(constant_time_equals("secret", ""));
  EXPECT_FALSE(constant_time_equals("", ""));  // nothing configured never matches
  EXPECT_FALSE(constant_time_equals("a", std::string_view("a\0", 2)));
}

TEST(Auth, BasicCredentialsArePaddedBase64OfTheWholePair) {
  // "u:pw" and "user:p@ss:word" (a colon in the password belongs to it): padded encodings.
  Authenticator short_pair(AuthConfig{.basic_user = "u", .basic_password = "pw"});
  EXPECT_TRUE(short_pair.allows("Basic dTpwdw=="));
  EXPECT_FALSE(short_pair.allows("Basic dTpwdw"));  // padding left out
  EXPECT_FALSE(short_pair.allows("Basic dTpwdw==dTpwdw=="));
  Authenticator colon(AuthConfig{.basic_user = "user", .basic_password = "p@ss:word"});
  EXPECT_TRUE(colon.allows("Basic dXNlcjpwQHNzOndvcmQ="));
  EXPECT_FALSE(colon.allows("Basic dXNlcjpwQHNz"));  // user:p@ss
}

TEST(Auth, NothingConfiguredAllowsEveryone) {
  Authenticator auth(AuthConfig{});
  EXPECT_FALSE(auth.required());
  EXPECT_TRUE(auth.allows(nullptr));
  EXPECT_TRUE(auth.allows("Bearer whatever"));
  EXPECT_TRUE(auth.challenges().empty());
  EXPECT_EQ(describe(AuthConfig{}), "none");
}

TEST(Auth, Bearer) {
  Authenticator auth(AuthConfig{.bearer_token = "tok"});
  EXPECT_TRUE(auth.required());
  EXPECT_TRUE(auth.allows("Bearer tok"));
  EXPECT_TRUE(auth.allows("bearer tok"));
  EXPECT_TRUE(auth.allows("Bearer   tok "));
  EXPECT_FALSE(auth.allows(nullptr));
  EXPECT_FALSE(auth.allows(""));
  EXPECT_FALSE(auth.allows("tok"));
  EXPECT_FALSE(auth.allows("Bearer"));
  EXPECT_FALSE(auth.allows("Bearer "));
  EXPECT_FALSE(auth.allows("Bearertok"));
  EXPECT_FALSE(auth.allows("Bearer to"));
  EXPECT_FALSE(auth.allows("Bearer tokk"));
  EXPECT_FALSE(auth.allows("Basic dG9rOg=="));
  ASSERT_EQ(auth.challenges().size(), 1u);
  EXPECT_EQ(auth.challenges()[0].rfind("Bearer ", 0), 0u);
  EXPECT_EQ(describe(AuthConfig{.bearer_token = "tok"}), "bearer");
}

TEST(Auth, Basic) {
  Authenticator auth(AuthConfig{.basic_user = "user", .basic_password = "pass"});
  EXPECT_TRUE(auth.allows("Basic dXNlcjpwYXNz"));  // user:pass
  EXPECT_TRUE(auth.allows("BASIC dXNlcjpwYXNz"));
  EXPECT_FALSE(auth.allows("Basic dXNlcjpwYXN6"));      // user:pasz
  EXPECT_FALSE(auth.allows("Basic dXNlcnBhc3M="));      // userpass (no colon)
  EXPECT_FALSE(auth.allows("Basic dXNlcjo="));          // user:
  EXPECT_FALSE(auth.allows("Basic OnBhc3M="));          // :pass
  EXPECT_FALSE(auth.allows("Basic dXNlcjpwYXNzOng="));  // user:pass:x
  EXPECT_FALSE(auth.allows("Basic not-base64"));
  EXPECT_FALSE(auth.allows("Bearer pass"));
  EXPECT_EQ(describe(AuthConfig{.basic_user = "u", .basic_password = "p"}), "basic");
}

TEST(Auth, BothSchemes) {
  Authenticator auth(AuthConfig{.bearer_token = "tok", .basic_user = "u", .basic_password = "p"});
  EXPECT_TRUE(auth.allows("Bearer tok"));
  EXPECT_TRUE(auth.allows("Basic dTpw"));
  EXPECT_FALSE(auth.allows("Basic dTp0b2s="));  // u:tok
  EXPECT_EQ(auth.challenges().size(), 2u);
  EXPECT_EQ(describe(AuthConfig{.bearer_token = "t", .basic_user = "u", .basic_password = "p"}),
            "bearer+basic");
}

}  // namespace
}  // namespace jmedia::transport
