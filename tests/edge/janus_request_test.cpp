#include <gtest/gtest.h>

#include "../../edge/janus_request.h"

namespace jmedia::edge {
namespace {

ClientRequest parsed(std::string_view text) {
  auto result = parse_request(text);
  EXPECT_TRUE(std::holds_alternative<ClientRequest>(result)) << text;
  if (auto* request = std::get_if<ClientRequest>(&result)) return std::move(*request);
  return {};
}

RequestError error_of(std::string_view text) {
  auto result = parse_request(text);
  EXPECT_TRUE(std::holds_alternative<RequestError>(result)) << text;
  if (auto* error = std::get_if<RequestError>(&result)) return *error;
  return {};
}

TEST(EdgeRequestTest, OneObjectIsARequestWithItsVerbIdsAndTransaction) {
  const ClientRequest r = parsed(
      R"({"janus":"trickle","transaction":"t1","session_id":12,"handle_id":34,)"
      R"("candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}})");
  EXPECT_EQ(r.verb, Verb::kTrickle);
  EXPECT_EQ(r.transaction, "t1");
  EXPECT_EQ(r.session_id, 12u);
  EXPECT_EQ(r.handle_id, 34u);
  EXPECT_EQ(r.candidates, 1u);
  EXPECT_NE(r.json, nullptr);
}

TEST(EdgeRequestTest, SeveralDocumentsInOneMessageAreOneError) {
  const RequestError e = error_of(R"({"janus":"ping","transaction":"a"}{"janus":"ping"})");
  EXPECT_EQ(e.code, kErrorInvalidJson);
  EXPECT_NE(e.reason.find("JSON error"), std::string::npos);
  EXPECT_EQ(error_of(R"({"janus":"ping"} x)").code, kErrorInvalidJson);
  EXPECT_EQ(error_of("").code, kErrorInvalidJson);
  // White space after the object is fine.
  EXPECT_EQ(parsed("{\"janus\":\"ping\"}\n  ").verb, Verb::kPing);
}

TEST(EdgeRequestTest, AValueThatIsNotAnObjectIsAnError) {
  EXPECT_EQ(error_of("[1,2]").code, kErrorInvalidJsonObject);
  EXPECT_EQ(error_of("\"ping\"").code, kErrorInvalidJsonObject);
}

TEST(EdgeRequestTest, EveryVerbOfTheApiIsKnownAndTheRestIsOther) {
  for (std::size_t i = 0; i + 1 < kVerbs; ++i) {
    EXPECT_EQ(verb_of(kVerbNames[i]), static_cast<Verb>(i)) << kVerbNames[i];
  }
  EXPECT_EQ(verb_of("fly"), Verb::kOther);
  EXPECT_EQ(verb_of(""), Verb::kOther);
  EXPECT_EQ(parsed(R"({"janus":42})").verb, Verb::kOther);
  EXPECT_EQ(parsed(R"({})").verb, Verb::kOther);
}

TEST(EdgeRequestTest, TrickleCandidatesAreCountedButNotTheCompletedMarker) {
  EXPECT_EQ(parsed(R"({"janus":"trickle","candidate":{"completed":true}})").candidates, 0u);
  EXPECT_EQ(parsed(R"({"janus":"trickle","candidate":null})").candidates, 0u);
  EXPECT_EQ(parsed(R"({"janus":"trickle","candidates":[{"candidate":"a"},{"candidate":"b"},)"
                   R"({"completed":true},{"candidate":"c"}]})")
                .candidates,
            3u);
  EXPECT_EQ(parsed(R"({"janus":"trickle","candidates":"no"})").candidates, 0u);
  // Both fields (the core refuses that): counted, the reservation comes back with the error.
  EXPECT_EQ(
      parsed(R"({"janus":"trickle","candidate":{"candidate":"a"},"candidates":[{}]})").candidates,
      2u);
  // Only trickles count their candidate fields.
  EXPECT_EQ(parsed(R"({"janus":"message","candidates":[{},{}]})").candidates, 0u);
}

TEST(EdgeRequestTest, AJsepSdpCountsItsCandidateLines) {
  const std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
      "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
      "a=candidate:2 1 udp 2130706431 127.0.0.1 5001 typ host\r\n"
      "a=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
      "a=candidate:3 1 udp 2130706431 127.0.0.1 5002 typ host";
  EXPECT_EQ(count_sdp_candidates(sdp), 3u);
  EXPECT_EQ(count_sdp_candidates("a=candidate:x"), 1u);
  EXPECT_EQ(count_sdp_candidates("xa=candidate:x\nb=candidate:"), 0u);
  JsonPtr json = adopt(json_pack("{s:s, s:{s:s, s:s}}", "janus", "message", "jsep", "type", "offer",
                                 "sdp", sdp.c_str()));
  ClientRequest r;
  r.json = std::move(json);
  inspect(r);
  EXPECT_EQ(r.verb, Verb::kMessage);
  EXPECT_EQ(r.candidates, 3u);
}

TEST(EdgeRequestTest, AttachKeepsThePluginAskedFor) {
  EXPECT_EQ(parsed(R"({"janus":"attach","plugin":"janus.plugin.media"})").plugin,
            "janus.plugin.media");
  EXPECT_EQ(parsed(R"({"janus":"attach","plugin":7})").plugin, "");
}

TEST(EdgeRequestTest, IdsThatAreNotPositiveIntegersAreNone) {
  const ClientRequest r = parsed(R"({"janus":"keepalive","session_id":"12","handle_id":-3})");
  EXPECT_EQ(r.session_id, 0u);
  EXPECT_EQ(r.handle_id, 0u);
}

TEST(EdgeRequestTest, ApiPathsAreTheBaseInfoASessionAndAHandle) {
  const auto path = [](std::string_view url) { return parse_api_path("/janus", url); };
  const auto ok = [&](std::string_view url) {
    auto routed = path(url);
    EXPECT_TRUE(std::holds_alternative<ApiPath>(routed)) << url;
    return std::holds_alternative<ApiPath>(routed) ? std::get<ApiPath>(routed) : ApiPath{};
  };
  const auto error = [&](std::string_view url) {
    auto routed = path(url);
    EXPECT_TRUE(std::holds_alternative<RequestError>(routed)) << url;
    return std::holds_alternative<RequestError>(routed) ? std::get<RequestError>(routed).code : 0;
  };
  EXPECT_FALSE(ok("/janus").session_id);
  EXPECT_FALSE(ok("/janus/").session_id);
  EXPECT_TRUE(ok("/janus/info").info);
  EXPECT_EQ(ok("/janus/12").session_id, 12u);
  const ApiPath both = ok("/janus//12//34/");
  EXPECT_EQ(both.session_id, 12u);
  EXPECT_EQ(both.handle_id, 34u);
  EXPECT_EQ(error("/janusx"), kErrorInvalidPath);
  EXPECT_EQ(error("/other"), kErrorInvalidPath);
  EXPECT_EQ(error("/janus/1/2/3"), kErrorInvalidPath);
  EXPECT_EQ(error("/janus/info/2"), kErrorSessionNotFound);
  EXPECT_EQ(error("/janus/abc"), kErrorSessionNotFound);
  EXPECT_EQ(error("/janus/0"), kErrorSessionNotFound);
  EXPECT_EQ(error("/janus/18446744073709551616"), kErrorSessionNotFound);  // 2^64
  EXPECT_EQ(ok("/janus/18446744073709551615").session_id, UINT64_MAX);
  EXPECT_EQ(error("/janus/1/x"), kErrorInvalidPath);
}

TEST(EdgeRequestTest, AnErrorReplyIsJanusShaped) {
  const std::string text = error_reply(480, "too many requests", "tx\"1", 99);
  JsonPtr reply = adopt(json_loads(text.c_str(), 0, nullptr));
  ASSERT_NE(reply, nullptr) << text;
  EXPECT_EQ(string_member(reply.get(), "janus"), "error");
  EXPECT_EQ(integer_member(reply.get(), "session_id"), 99);
  EXPECT_EQ(string_member(reply.get(), "transaction"), "tx\"1");
  EXPECT_EQ(integer_member(member(reply.get(), "error"), "code"), 480);
  EXPECT_EQ(string_member(member(reply.get(), "error"), "reason"), "too many requests");
  // No session, no transaction: neither field.
  JsonPtr bare = adopt(json_loads(error_reply(454, "x", "", 0).c_str(), 0, nullptr));
  EXPECT_EQ(json_object_get(bare.get(), "session_id"), nullptr);
  EXPECT_EQ(json_object_get(bare.get(), "transaction"), nullptr);
}

TEST(EdgeRequestTest, SerializeIsCompactAndKeepsTheOrder) {
  JsonPtr message = adopt(json_pack("{s:s, s:i}", "janus", "ack", "session_id", 5));
  EXPECT_EQ(serialize(message.get()), R"({"janus":"ack","session_id":5})");
  // With room in front for a writer's header; a long message grows past the first reserve.
  EXPECT_EQ(serialize(message.get(), 4), R"(    {"janus":"ack","session_id":5})");
  JsonPtr big = adopt(json_pack("{s:s}", "sdp", std::string(5000, 'x').c_str()));
  const std::string text = serialize(big.get(), 16);
  EXPECT_EQ(text.size(), 16 + 5000 + std::string(R"({"sdp":""})").size());
  EXPECT_EQ(text.substr(0, 17), std::string(16, ' ') + "{");
}

}  // namespace
}  // namespace jmedia::edge
