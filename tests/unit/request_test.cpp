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

JsonPtr offer() {
  return parse(R"({"type":"offer","sdp":"v=0\r\n"})");
}

struct BadCase {
  const char* body;
  const char* jsep;  // nullptr: none
  ErrorCode code;
};

void PrintTo(const BadCase& c, std::ostream* out) {
  *out << c.body;
}

class BadRequest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRequest, GetsItsErrorCode) {
  const BadCase& c = GetParam();
  JsonPtr body = parse(c.body);
  JsonPtr jsep = c.jsep ? parse(c.jsep) : nullptr;
  Parsed<ClientRequest> parsed = parse_client_request(body.get(), jsep.get());
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
        BadCase{R"({"request":"echo"})", nullptr, ErrorCode::kMissingJsep},
        BadCase{R"({"request":"echo"})", R"({"type":"answer","sdp":"v=0"})",
                ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"({"type":7,"sdp":"v=0"})", ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"({"sdp":"v=0"})", ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"("offer")", ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"echo"})", R"({"type":"offer"})", ErrorCode::kInvalidSdp},
        BadCase{R"({"request":"echo"})", R"({"type":"offer","sdp":""})", ErrorCode::kInvalidSdp},
        BadCase{R"({"request":"hangup"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kUnexpectedJsep},
        // publish
        BadCase{R"({"request":"publish"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"publish","device_id":""})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"publish","device_id":"cam 1"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"publish","device_id":"caméra"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"publish","device_id":42})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"publish","device_id":"cam1"})", nullptr, ErrorCode::kMissingJsep},
        BadCase{R"({"request":"publish","device_id":"cam1"})", R"({"type":"answer","sdp":"v=0"})",
                ErrorCode::kWrongJsepType},
        BadCase{R"({"request":"publish","device_id":"cam1","video":"no"})",
                R"({"type":"offer","sdp":"v=0"})", ErrorCode::kInvalidField},
        // watch / start
        BadCase{R"({"request":"watch"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"watch","device_id":["cam1"]})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"watch","device_id":"cam1"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kUnexpectedJsep},
        BadCase{R"({"request":"start"})", nullptr, ErrorCode::kMissingJsep},
        BadCase{R"({"request":"start"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kWrongJsepType},
        // configure
        BadCase{R"({"request":"configure","bitrate":-1})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"configure","bitrate":"fast"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"configure","keyframe":1})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"configure"})", R"({"type":"answer","sdp":"v=0"})",
                ErrorCode::kWrongJsepType},
        // list / info / devices
        BadCase{R"({"request":"list","limit":0})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","limit":1001})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","limit":"ten"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","role":"admin"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":5})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","device_id":"a/b"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"info"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"info","media_session":7})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","limit":-5})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","scope":"everywhere"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","scope":true})", nullptr, ErrorCode::kInvalidField},
        // cursors the server could never have returned: list pages by media_session id
        // (16 lower-case hex digits), devices by device_id
        BadCase{R"({"request":"list","cursor":"%%%garbage%%%"})", nullptr,
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":""})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":"00ff"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":"0123456789ABCDEF"})", nullptr,
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":"0123456789abcdeg"})", nullptr,
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":"0123456789abcdef0"})", nullptr,
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","cursor":"cam-1"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","device_id":"cam1","cursor":"cam1"})", nullptr,
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","cursor":"%%%garbage%%%"})", nullptr,
                ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","cursor":""})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","cursor":"cam 1"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","cursor":"caméra"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"devices","cursor":null})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","detail":1})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list","detail":"true"})", nullptr, ErrorCode::kInvalidField},
        BadCase{R"({"request":"list"})", R"({"type":"offer","sdp":"v=0"})",
                ErrorCode::kUnexpectedJsep}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) {
      return "case" + std::to_string(param_info.index) + "_code" +
             std::to_string(numeric(param_info.param.code));
    });

TEST(Request, EchoDefaultsToEverything) {
  JsonPtr body = parse(R"({"request":"echo"})");
  JsonPtr jsep = offer();
  Parsed<ClientRequest> parsed = parse_client_request(body.get(), jsep.get());
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
  Parsed<ClientRequest> parsed = parse_client_request(body.get(), jsep.get());
  ASSERT_FALSE(parsed.error.has_value());
  const auto& echo = std::get<EchoRequest>(*parsed.request);
  EXPECT_FALSE(echo.flags.audio);
  EXPECT_TRUE(echo.flags.video);
  EXPECT_FALSE(echo.flags.data);
}

TEST(Request, HangupIsValidWithoutJsep) {
  JsonPtr body = parse(R"({"request":"hangup"})");
  Parsed<ClientRequest> parsed = parse_client_request(body.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value());
  EXPECT_TRUE(std::holds_alternative<HangupRequest>(*parsed.request));
}

TEST(Request, NullBodyIsInvalid) {
  Parsed<ClientRequest> parsed = parse_client_request(nullptr, nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->code, ErrorCode::kInvalidBody);
}

TEST(Request, DeviceIdRules) {
  EXPECT_TRUE(valid_device_id("cam-1.front_door:2"));
  EXPECT_TRUE(valid_device_id(std::string(128, 'x')));
  EXPECT_FALSE(valid_device_id(std::string(129, 'x')));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("a b"));
  EXPECT_FALSE(valid_device_id("a/b"));
  EXPECT_FALSE(valid_device_id("\xc3\xa9"));
}

TEST(Request, OversizedDeviceIdIsRejected) {
  JsonPtr body = adopt(json_object());
  set(body.get(), "request", "watch");
  set(body.get(), "device_id", std::string_view(std::string(129, 'a')));
  auto parsed = parse_client_request(body.get(), nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->code, ErrorCode::kInvalidField);
}

TEST(Request, ListReadsEveryField) {
  JsonPtr body = parse(R"({"request":"list","device_id":"cam1","role":"viewer","limit":10,)"
                       R"("cursor":"00ff00ff00ff00ff"})");
  auto parsed = parse_client_request(body.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->reason;
  const auto& list = std::get<ListRequest>(*parsed.request);
  EXPECT_EQ(list.device_id, "cam1");
  EXPECT_EQ(list.role, Role::kViewer);
  EXPECT_EQ(list.limit, 10u);
  EXPECT_EQ(list.cursor, "00ff00ff00ff00ff");
  EXPECT_FALSE(list.detail);
  EXPECT_TRUE(is_sync_request(parsed.name));
}

TEST(Request, ListDetailIsABoolean) {
  JsonPtr body = parse(R"({"request":"list","detail":true})");
  auto parsed = parse_client_request(body.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->reason;
  EXPECT_TRUE(std::get<ListRequest>(*parsed.request).detail);
  auto admin = parse_admin_request(body.get());
  ASSERT_FALSE(admin.error.has_value()) << admin.error->reason;
  EXPECT_TRUE(std::get<ListRequest>(*admin.request).detail);
}

TEST(Request, CursorsAreKeysTheServerCouldHaveReturned) {
  EXPECT_TRUE(valid_session_id("0123456789abcdef"));
  EXPECT_FALSE(valid_session_id("0123456789abcde"));
  EXPECT_FALSE(valid_session_id("0123456789Abcdef"));
  EXPECT_FALSE(valid_session_id(""));
  JsonPtr list = parse(R"({"request":"list","cursor":"ffffffffffffffff"})");
  auto parsed = parse_client_request(list.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->reason;
  EXPECT_EQ(std::get<ListRequest>(*parsed.request).cursor, "ffffffffffffffff");
  const std::string longest(kMaxDeviceIdLength, 'z');
  JsonPtr devices = adopt(json_object());
  set(devices.get(), "request", "devices");
  set(devices.get(), "cursor", std::string_view(longest));
  parsed = parse_client_request(devices.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->reason;
  EXPECT_EQ(std::get<DevicesRequest>(*parsed.request).cursor, longest);
  // Without a cursor the page starts at the beginning.
  JsonPtr first = parse(R"({"request":"devices"})");
  parsed = parse_client_request(first.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value());
  EXPECT_EQ(std::get<DevicesRequest>(*parsed.request).cursor, "");
  // The reason says what a cursor is.
  JsonPtr garbage = parse(R"({"request":"list","cursor":"%%%garbage%%%"})");
  parsed = parse_client_request(garbage.get(), nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->reason,
            "'cursor' must be a media_session id (16 lower-case hex digits), or in token mode "
            "<device_id>/<media_session>: pass the next_cursor of the previous page");
  garbage = parse(R"({"request":"devices","cursor":"%%%garbage%%%"})");
  parsed = parse_client_request(garbage.get(), nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->reason,
            "'cursor' must be a device_id (1-128 characters of A-Z a-z 0-9 . _ : -): pass the "
            "next_cursor of the previous page");
}

// Token mode's list pages are in device order: their cursors name the device too. The parser
// takes both forms (which one a page needs is the plugin's mode) and nothing else.
TEST(Request, AListCursorMayNameItsDevice) {
  JsonPtr body = parse(R"({"request":"list","cursor":"cam-1/00ff00ff00ff00ff"})");
  auto parsed = parse_client_request(body.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->reason;
  const auto& list = std::get<ListRequest>(*parsed.request);
  EXPECT_EQ(list.cursor, "00ff00ff00ff00ff");
  EXPECT_EQ(list.cursor_device, "cam-1");
  JsonPtr plain = parse(R"({"request":"list","cursor":"00ff00ff00ff00ff"})");
  parsed = parse_client_request(plain.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value()) << parsed.error->reason;
  EXPECT_FALSE(std::get<ListRequest>(*parsed.request).cursor_device.has_value());
  for (const char* bad :
       {"/00ff00ff00ff00ff", "cam-1/", "cam-1/00FF00FF00FF00FF", "cam 1/00ff00ff00ff00ff",
        "cam-1/00ff00ff00ff00ff/x", "a/b/00ff00ff00ff00ff", "cam-1//00ff00ff00ff00ff"}) {
    JsonPtr garbage = adopt(json_object());
    set(garbage.get(), "request", "list");
    set(garbage.get(), "cursor", bad);
    parsed = parse_client_request(garbage.get(), nullptr);
    ASSERT_TRUE(parsed.error.has_value()) << bad;
    EXPECT_EQ(parsed.error->code, ErrorCode::kInvalidField) << bad;
    auto admin = parse_admin_request(garbage.get());
    ASSERT_TRUE(admin.error.has_value()) << bad;
  }
}

TEST(Request, ConfigureReadsEveryField) {
  JsonPtr body = parse(
      R"({"request":"configure","audio":false,"video":true,"bitrate":256000,"keyframe":true})");
  auto parsed = parse_client_request(body.get(), nullptr);
  ASSERT_FALSE(parsed.error.has_value());
  const auto& configure = std::get<ConfigureRequest>(*parsed.request);
  EXPECT_EQ(configure.audio, false);
  EXPECT_EQ(configure.video, true);
  EXPECT_EQ(configure.bitrate, 256000u);
  EXPECT_TRUE(configure.keyframe);
  EXPECT_FALSE(configure.offer_sdp.has_value());
  EXPECT_FALSE(is_sync_request(parsed.name));
}

struct AdminCase {
  const char* body;
  ErrorCode code;
};
void PrintTo(const AdminCase& c, std::ostream* out) {
  *out << c.body;
}
class BadAdminRequest : public ::testing::TestWithParam<AdminCase> {};

TEST_P(BadAdminRequest, GetsItsErrorCode) {
  JsonPtr body = parse(GetParam().body);
  auto parsed = parse_admin_request(body.get());
  ASSERT_TRUE(parsed.error.has_value()) << GetParam().body;
  EXPECT_EQ(parsed.error->code, GetParam().code) << parsed.error->reason;
}

INSTANTIATE_TEST_SUITE_P(
    AllErrors, BadAdminRequest,
    ::testing::Values(
        AdminCase{"[]", ErrorCode::kInvalidBody}, AdminCase{"{}", ErrorCode::kMissingRequest},
        AdminCase{R"({"request":"echo"})", ErrorCode::kUnknownRequest},
        AdminCase{R"({"request":"kick"})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"kick","media_session":"a","device_id":"b"})",
                  ErrorCode::kInvalidField},
        AdminCase{R"({"request":"kick","device_id":"no way"})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"drain"})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"drain","enabled":"yes"})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"limits","max_sessions":0})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"limits","queue_size":"big"})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"limits","max_viewers_per_device":-1})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"info","media_session":null})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"list","cursor":"%%%garbage%%%"})", ErrorCode::kInvalidField},
        AdminCase{R"({"request":"devices","cursor":"a/b"})", ErrorCode::kInvalidField}),
    [](const ::testing::TestParamInfo<AdminCase>& param_info) {
      return "case" + std::to_string(param_info.index);
    });

TEST(Request, AdminRequestsParse) {
  JsonPtr kick = parse(R"({"request":"kick","device_id":"cam1"})");
  auto parsed = parse_admin_request(kick.get());
  ASSERT_FALSE(parsed.error.has_value());
  EXPECT_EQ(std::get<KickRequest>(*parsed.request).device_id, "cam1");
  JsonPtr limits = parse(R"({"request":"limits","max_sessions":5,"queue_size":9})");
  parsed = parse_admin_request(limits.get());
  ASSERT_FALSE(parsed.error.has_value());
  EXPECT_EQ(std::get<LimitsRequest>(*parsed.request).max_sessions, 5u);
  EXPECT_EQ(std::get<LimitsRequest>(*parsed.request).queue_size, 9u);
  EXPECT_FALSE(std::get<LimitsRequest>(*parsed.request).max_viewers_per_device.has_value());
  JsonPtr drain = parse(R"({"request":"drain","enabled":true})");
  parsed = parse_admin_request(drain.get());
  ASSERT_FALSE(parsed.error.has_value());
  EXPECT_TRUE(std::get<DrainRequest>(*parsed.request).enabled);
}

TEST(Request, LongUnknownNameIsCutOnAUtf8Boundary) {
  std::string name(63, 'a');
  name += "\xc3\xa9\xc3\xa9";  // "éé": byte 64 falls inside the first é
  JsonPtr body = adopt(json_object());
  set(body.get(), "request", std::string_view(name));
  Parsed<ClientRequest> parsed = parse_client_request(body.get(), nullptr);
  ASSERT_TRUE(parsed.error.has_value());
  EXPECT_EQ(parsed.error->code, ErrorCode::kUnknownRequest);
  JsonPtr reason = adopt(json_string(parsed.error->reason.c_str()));
  EXPECT_NE(reason, nullptr) << "reason must stay valid UTF-8";
}

}  // namespace
}  // namespace jmedia
