#include <gtest/gtest.h>

#include "../../common/json.h"
#include "../../plugin/request.h"

namespace jmedia {
namespace {

JsonPtr parse(const char* text) {
  json_error_t error;
  JsonPtr value = adopt(json_loads(text, JSON_DECODE_ANY, &error));
  EXPECT_NE(value, nullptr) << text << ": " << error.text;
  return value;
}

JsonPtr offer() { return parse(R"({"type":"offer","sdp":"v=0\r\n"})"); }

struct BadCase {
  const char* body;
  const char* jsep;  // nullptr: none
  ErrorCode code;
};

void PrintTo(const BadCase& c, std::ostream* out) { *out << c.body; }

class BadRequest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRequest, GetsItsErrorCode) {
  const BadCase& c = GetParam();
  JsonPtr body = parse(c.body);
  JsonPtr jsep = c.jsep ? parse(c.jsep) : nullptr;
  ParsedRequest parsed = parse_client_request(body.get(), jsep.get());
  ASSERT_TRUE(parsed.error.has_value()) << c.body;
  EXPECT_FALSE(parsed.request.has_value());
  EXPECT_EQ(parsed.error->code, c.code) << c.body << " -> " << parsed.error->reason;
  EXPECT_FALSE(parsed.error->reason.empty());
}

INSTANTIATE_TEST_SUITE_P(
    AllErrors, BadRequest,
    ::testing::Values(
        BadCase{"[]", nullptr, ErrorCode::kInvalidBody},
        BadCase{"\"echo\"", nullptr, ErrorCode::kInvalidBody},
        BadCase{"42", nullptr, ErrorCode::kInvalidBody},
        BadCase{"null", nullptr, ErrorCode::kInvalidBody},
        BadCase{"{}", nullptr, ErrorCode::kMissingRequest},
        BadCase{R"({"request":5})", nullptr, ErrorCode::kMissingRequest},
        BadCase{R"({"request":null})", nullptr, ErrorCode::kMissingRequest},
        BadCase{R"({"request":["echo"]})", nullptr, ErrorCode::kMissingRequest},
        BadCase{R"({"request":"fly"})", nullptr, ErrorCode::kUnknownRequest},
        BadCase{R"({"request":"ECHO"})", nullptr, ErrorCode::kUnknownRequest},
        BadCase{R"({"request":""})", nullptr, ErrorCode::kUnknownRequest},
        BadCase{R"({"request":"echo","audio":"yes"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"echo","video":1})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"echo","data":null})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"echo"})", nullptr, ErrorCode::kMissingOffer},
        BadCase{R"({"request":"echo"})", R"({"type":"answer","sdp":"v=0"})",
                ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"({"type":7,"sdp":"v=0"})", ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"({"sdp":"v=0"})", ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"("offer")", ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"({"type":"offer"})", ErrorCode::kInvalidSdp},
        BadCase{R"({"request":"echo"})", R"({"type":"offer","sdp":""})", ErrorCode::kInvalidSdp},
        BadCase{R"({"request":"hangup"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kUnexpectedJsep}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) {
      return "case" + std::to_string(param_info.index) + "_code" +
             std::to_string(numeric(param_info.param.code));
    });

TEST(Request, EchoDefaultsToEverything) {
  JsonPtr body = parse(R"({"request":"echo"})");
  JsonPtr jsep = offer();
  ParsedRequest parsed = parse_client_request(body.get(), jsep.get());
  ASSERT_FALSE(parsed.error.has_value());
  const auto& echo = std::get<EchoRequest>(*parsed.request);
  EXPECT_TRUE(echo.flags.audio);
  EXPECT_TRUE(echo.flags.video);
  EXPECT_TRUE(echo.flags.data);
  EXPECT_EQ(echo.offer_sdp, "v=0\r\n");
  EXPECT_EQ(parsed.name, "echo");
}

TEST(Request, EchoFlagsAreRead) {
  JsonPtr body = parse(R"({"request":"echo","audio":false,"video":true,"data":false})");
  JsonPtr jsep = offer();
  ParsedRequest parsed = parse_client_request(body.get(), jsep.get());
  ASSERT_FALSE(parsed.error.has_value());
  const auto& echo = std::get<EchoRequest>(*parsed.request);
  EXPECT_FALSE(echo.flags.audio);
  EXPECT_TRUE(echo.flags.video);
  EXPECT_FALSE(echo.flags.data);
}

TEST(Request, HangupIsValidWithoutJsep) {
  JsonPtr body = parse(R"({"request":"hangup"})");
  ParsedRequest parsed = parse_client_request(body.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value());
  EXPECT_TRUE(std::holds_alternative<HangupRequest>(*parsed.request));
}

TEST(Request, NullBodyIsInvalid) {
  ParsedRequest parsed = parse_client_request(nullptr, nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->code, ErrorCode::kInvalidBody);
}

TEST(Request, LongUnknownNameIsCutOnAUtf8Boundary) {
  std::string name(63, 'a');
  name += "\xc3\xa9\xc3\xa9";  // "éé": byte 64 falls inside the first é
  JsonPtr body = adopt(json_object());
  set(body.get(), "request", std::string_view(name));
  ParsedRequest parsed = parse_client_request(body.get(), nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->code, ErrorCode::kUnknownRequest);
  JsonPtr reason = adopt(json_string(parsed.error->reason.c_str()));
  EXPECT_NE(reason, nullptr) << "reason must stay valid UTF-8";
}

}  // namespace
}  // namespace jmedia
