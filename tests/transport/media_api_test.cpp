// The session REST API (transport/media_api.*): routing, parameters, access and every error
// answer through the pure router (MediaApi::handle, and HttpServer::handle for the mount), then
// what only a socket shows (the thread pool, bodies, HEAD, keep-alive), against a fake of the
// plugin's published view (fake_view.h). The API over the real plugin is in
// tests/abi/plugin_abi_test.cpp; over a real Janus in tests/e2e/test_rest_api.py.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "../../transport/api_metrics.h"
#include "../../transport/media_api.h"
#include "../../transport/query.h"
#include "fake_view.h"
#include "http_client.h"
#include "test_server.h"

namespace jmedia::testing {
namespace {

using transport::ApiMetrics;
using transport::MediaApi;
using transport::MediaApiOptions;
using transport::Request;
using transport::Response;

constexpr const char* kApiToken = "read-token-0123456789";
constexpr const char* kAdminToken = "admin-token-0123456789";

JsonPtr parse(const std::string& text) {
  json_error_t error;
  return adopt(json_loads(text.c_str(), 0, &error));
}

std::string str(const json_t* object, const char* key) {
  const json_t* value = json_object_get(object, key);
  return json_is_string(value) ? json_string_value(value) : "";
}

std::int64_t error_code(const Response& response) {
  JsonPtr body = parse(response.body);
  return json_integer_value(json_object_get(body.get(), "error_code"));
}

// A request as a loopback client sends it (no Host header unless set).
Request local(std::string_view method, std::string_view path, std::string_view query = {}) {
  Request request{method, path, nullptr};
  request.query = query;
  request.peer_loopback = true;
  return request;
}

Request remote(std::string_view method, std::string_view path, const char* authorization) {
  Request request{method, path, authorization};
  request.peer_loopback = false;
  return request;
}

Request drain(std::string_view body, const char* content_type = "application/json") {
  Request request = local("POST", "/api/media/drain");
  request.body = body;
  request.content_type = content_type;
  return request;
}

class MediaApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(view.publish()); }

  // Every answer of the API is JSON, not cached.
  static Response call(MediaApi& target, const Request& request) {
    Response response = target.handle(request);
    EXPECT_EQ(response.content_type, "application/json") << request.path;
    EXPECT_NE(parse(response.body), nullptr) << response.body;
    return response;
  }
  Response call(const Request& request) { return call(api, request); }

  FakeView view;
  ApiMetrics metrics;
  MediaApi api{MediaApiOptions{}, metrics};
};

TEST_F(MediaApiTest, EachRouteBecomesThePluginsOwnRequest) {
  Response list = call(local("GET", "/api/media/sessions",
                             "device_id=cam-1&role=viewer&limit=10&cursor=0123456789abcdef&"
                             "detail=true"));
  EXPECT_EQ(list.status, 200u);
  EXPECT_EQ(str(parse(list.body).get(), "media"), "list") << "the plugin's answer, as it is";
  EXPECT_EQ(view.last_call(),
            R"(read {"cursor":"0123456789abcdef","detail":true,"device_id":"cam-1",)"
            R"("limit":10,"request":"list","role":"viewer"})");

  EXPECT_EQ(call(local("GET", "/api/media/sessions")).status, 200u);
  EXPECT_EQ(view.last_call(), R"(read {"request":"list"})") << "defaults are the plugin's";

  EXPECT_EQ(call(local("GET", "/api/media/sessions/0123456789abcdef")).status, 200u);
  EXPECT_EQ(view.last_call(), R"(read {"media_session":"0123456789abcdef","request":"info"})");

  EXPECT_EQ(call(local("GET", "/api/media/devices", "limit=5&cursor=cam-0")).status, 200u);
  EXPECT_EQ(view.last_call(), R"(read {"cursor":"cam-0","limit":5,"request":"devices"})");
  // Every node's devices, from the cluster directory (the plugin validates the value).
  EXPECT_EQ(call(local("GET", "/api/media/devices", "scope=cluster&limit=2")).status, 200u);
  EXPECT_EQ(view.last_call(), R"(read {"limit":2,"request":"devices","scope":"cluster"})");

  EXPECT_EQ(call(local("DELETE", "/api/media/sessions/0123456789abcdef")).status, 200u);
  EXPECT_EQ(view.last_call(),
            R"(command {"media_session":"0123456789abcdef","reason":"operator","request":"kick"})");

  EXPECT_EQ(call(local("DELETE", "/api/media/devices/cam-1")).status, 200u);
  EXPECT_EQ(view.last_call(),
            R"(command {"device_id":"cam-1","reason":"operator","request":"kick"})");

  EXPECT_EQ(call(drain(R"({"enabled":true})")).status, 200u);
  EXPECT_EQ(view.last_call(), R"(command {"enabled":true,"request":"drain"})");
  EXPECT_EQ(call(drain(R"({"enabled":false})", "application/json; charset=utf-8")).status, 200u);
  EXPECT_EQ(view.last_call(), R"(command {"enabled":false,"request":"drain"})");
  EXPECT_EQ(view.calls().size(), 9u);
}

TEST_F(MediaApiTest, ParametersAreTypedAsThePluginReadsThem) {
  // What looks like the plugin's type gets it; anything else stays a string, for the plugin's
  // validation to refuse with its own words and code.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"limit=abc", R"("limit":"abc")"},
      {"limit=010", R"("limit":"010")"},
      {"limit=-5", R"("limit":-5)"},
      {"limit=0", R"("limit":0)"},
      {"limit=1e3", R"("limit":"1e3")"},
      {"limit=", R"("limit":"")"},
      {"limit=1234567890123456789", R"("limit":"1234567890123456789")"},
      {"detail=false", R"("detail":false)"},
      {"detail=yes", R"("detail":"yes")"},
      {"detail", R"("detail":"")"},
      {"device_id=cam%3A1", R"("device_id":"cam:1")"},
      {"device_id=a+b", R"("device_id":"a b")"},
      {"role=", R"("role":"")"},
      {"cursor=%41", R"("cursor":"A")"},
      {"&&limit=3&", R"("limit":3)"},
  };
  for (const auto& [query, field] : cases) {
    EXPECT_EQ(call(local("GET", "/api/media/sessions", query)).status, 200u) << query;
    EXPECT_NE(view.last_call().find(field), std::string::npos)
        << query << " -> " << view.last_call();
  }
  // A path id is percent-decoded, '+' kept.
  call(local("DELETE", "/api/media/devices/cam%3A1+x"));
  EXPECT_EQ(view.last_call(),
            R"(command {"device_id":"cam:1+x","reason":"operator","request":"kick"})");
}

TEST_F(MediaApiTest, WhatThePluginCannotSeeIs400WithItsCodes) {
  struct Case {
    Request request;
    std::int64_t code;
    std::string words;
  };
  Request non_utf8 = local("GET", "/api/media/sessions", "device_id=%C3%28");
  const std::vector<Case> cases = {
      {local("GET", "/api/media/sessions", "limt=5"), 1004, "unknown parameter 'limt'"},
      {local("GET", "/api/media/sessions", "request=kick"), 1004, "unknown parameter 'request'"},
      {local("GET", "/api/media/sessions", "%FF%FE=1"), 1004, "unknown parameter (not shown)"},
      {local("GET", "/api/media/sessions", "limit=1&limit=2"), 1004, "'limit' is given twice"},
      {local("GET", "/api/media/sessions", "cursor=%zz"), 1004, "percent-encoding"},
      {local("GET", "/api/media/sessions", "cursor=%4"), 1004, "percent-encoding"},
      {non_utf8, 1004, "not valid UTF-8"},
      {local("GET", "/api/media/devices", "role=echo"), 1004, "(expected limit, cursor, scope)"},
      {local("GET", "/api/media/sessions/0123456789abcdef", "detail=true"), 1004, "takes none"},
      {local("DELETE", "/api/media/sessions/0123456789abcdef", "reason=x"), 1004, "takes none"},
      {local("DELETE", "/api/media/devices/cam%2"), 1004, "percent-encoding in the device_id"},
      {local("GET", "/api/media/sessions/%C3%28"), 1004, "not valid UTF-8"},
      {drain("not json"), 1001, "must be a JSON object"},
      {drain("[true]"), 1001, "must be a JSON object"},
      {drain(""), 1001, "must be a JSON object"},
      {drain(R"({"enabled":true,"enabled":false})"), 1001, "must be a JSON object"},
      {drain(R"({"enabled":true,"extra":1})"), 1004, "unknown member 'extra'"},
  };
  for (const auto& c : cases) {
    view.clear();
    Response response = call(c.request);
    EXPECT_EQ(response.status, 400u) << c.request.path << "?" << c.request.query;
    EXPECT_EQ(error_code(response), c.code) << response.body;
    EXPECT_NE(response.body.find(c.words), std::string::npos) << response.body;
    EXPECT_NE(response.body.find(R"("media":"event")"), std::string::npos)
        << "the plugin's error shape: " << response.body;
    EXPECT_TRUE(view.calls().empty()) << "refused before the plugin: " << view.last_call();
  }
}

TEST_F(MediaApiTest, ThePluginsErrorsKeepTheirCodeAndGetTheirStatus) {
  // 1022: the cluster directory cannot be reached (retry later); 7: not a code of ours, a bug
  // somewhere, not the client's fault.
  const std::vector<std::pair<int, unsigned>> cases = {{1004, 400}, {1001, 400}, {1003, 400},
                                                       {1018, 404}, {1015, 404}, {1010, 503},
                                                       {1022, 503}, {1099, 500}, {7, 500}};
  for (const auto& [code, status] : cases) {
    const std::string body = R"({"media":"event","error_code":)" + std::to_string(code) +
                             R"(,"error":"from the plugin"})";
    view.reply("list", body);
    view.reply("kick", body);
    for (const Request& request : {local("GET", "/api/media/sessions"),
                                   local("DELETE", "/api/media/sessions/0123456789abcdef")}) {
      Response response = call(request);
      EXPECT_EQ(response.status, status) << code;
      EXPECT_EQ(response.body, body) << "passed on whole";
    }
  }
  // A drain with no 'enabled' reaches the plugin, which says what is missing.
  view.reply("drain", R"({"media":"event","error_code":1004,"error":"'enabled' is required"})");
  EXPECT_EQ(call(drain("{}")).status, 400u);
  EXPECT_EQ(view.last_call(), R"(command {"request":"drain"})");
}

TEST_F(MediaApiTest, UnknownPathsAre404AndOtherMethods405WithAllow) {
  for (const char* path :
       {"/api", "/api/", "/api/media", "/api/media/", "/api/media/sessions/",
        "/api/media/sessions/a/b", "/api/media/devices/", "/api/media/x", "/api/media/drain/",
        "/api/media/sessions//x", "/api/mediax/sessions", "/api/media/SESSIONS"}) {
    Response response = call(local("GET", path));
    EXPECT_EQ(response.status, 404u) << path;
    EXPECT_NE(str(parse(response.body).get(), "error"), "") << response.body;
  }
  const std::vector<std::tuple<const char*, const char*, const char*>> cases = {
      {"POST", "/api/media/sessions", "GET, HEAD"},
      {"DELETE", "/api/media/sessions", "GET, HEAD"},
      {"PUT", "/api/media/sessions/0123456789abcdef", "GET, HEAD, DELETE"},
      {"POST", "/api/media/sessions/0123456789abcdef", "GET, HEAD, DELETE"},
      {"GET", "/api/media/devices/cam-1", "DELETE"},
      {"PATCH", "/api/media/devices", "GET, HEAD"},
      {"GET", "/api/media/drain", "POST"},
      {"OPTIONS", "/api/media/drain", "POST"},
  };
  for (const auto& [method, path, allow] : cases) {
    Response response = call(local(method, path));
    EXPECT_EQ(response.status, 405u) << method << " " << path;
    ASSERT_EQ(response.headers.size(), 1u);
    EXPECT_EQ(response.headers[0].first, "Allow");
    EXPECT_EQ(response.headers[0].second, allow) << method << " " << path;
  }
  EXPECT_TRUE(view.calls().empty());
}

TEST_F(MediaApiTest, WithoutThePluginEveryRouteIs503) {
  view.unpublish();
  for (const Request& request :
       {local("GET", "/api/media/sessions"), local("HEAD", "/api/media/sessions/0123456789abcdef"),
        local("GET", "/api/media/devices"), local("DELETE", "/api/media/devices/cam-1"),
        drain(R"({"enabled":true})")}) {
    Response response = call(request);
    EXPECT_EQ(response.status, 503u) << request.path;
    EXPECT_NE(response.body.find("janus.plugin.media is not running"), std::string::npos)
        << response.body;
  }
  // Access is still checked first: a stranger learns nothing about the plugin.
  EXPECT_EQ(call(remote("GET", "/api/media/sessions", nullptr)).status, 403u);
  // A plugin going away (its view answers nothing) is 503 too.
  ASSERT_TRUE(view.publish());
  view.reply("list", "null");
  Response going = call(local("GET", "/api/media/sessions"));
  EXPECT_EQ(going.status, 503u);
  EXPECT_NE(going.body.find("stopping"), std::string::npos) << going.body;
}

TEST_F(MediaApiTest, DrainsBodyIsBoundedAndMustBeJson) {
  Request large = drain("");
  large.body_too_large = true;
  EXPECT_EQ(call(large).status, 413u);
  EXPECT_EQ(call(drain(R"({"enabled":true})", nullptr)).status, 415u);
  EXPECT_EQ(call(drain(R"({"enabled":true})", "text/plain")).status, 415u)
      << "what a web page may send cross-site without asking first";
  EXPECT_EQ(call(drain(R"({"enabled":true})", "application/x-www-form-urlencoded")).status, 415u);
  EXPECT_EQ(call(drain(R"({"enabled":true})", "application/jsonx")).status, 415u);
  EXPECT_EQ(call(drain(R"({"enabled":true})", "Application/JSON ; charset=utf-8")).status, 200u);
  EXPECT_EQ(view.calls().size(), 1u);
}

// --- access -------------------------------------------------------------------------------

TEST_F(MediaApiTest, WithoutTokensOnlyLoopbackClientsAreServed) {
  EXPECT_EQ(call(local("GET", "/api/media/sessions")).status, 200u);
  EXPECT_EQ(call(local("DELETE", "/api/media/sessions/0123456789abcdef")).status, 200u);
  EXPECT_EQ(call(drain(R"({"enabled":true})")).status, 200u);
  view.clear();
  for (const Request& request : {remote("GET", "/api/media/sessions", nullptr),
                                 remote("HEAD", "/api/media/devices", nullptr),
                                 remote("DELETE", "/api/media/sessions/0123456789abcdef", nullptr),
                                 remote("GET", "/api/media/sessions", "Bearer anything")}) {
    Response response = call(request);
    EXPECT_EQ(response.status, 403u) << request.method << " " << request.path;
    EXPECT_NE(response.body.find("only loopback clients"), std::string::npos) << response.body;
  }
  EXPECT_TRUE(view.calls().empty()) << view.last_call();
}

TEST_F(MediaApiTest, ATokenlessLoopbackClientMustNameTheHostByAddress) {
  // A web page whose DNS name was rebound to 127.0.0.1 sends its own name as Host.
  for (const char* host : {"127.0.0.1:30006", "127.0.0.2", "localhost", "LocalHost:1",
                           "[::1]:30006", "[::1]", "192.0.2.2:30006"}) {
    Request request = local("GET", "/api/media/sessions");
    request.host = host;
    EXPECT_EQ(call(request).status, 200u) << host;
  }
  for (const char* host : {"evil.example", "evil.example:30006", "localhost.evil.example", "",
                           "127.0.0.1.nip.io", "[::1", "[evil]:1", "0x7f000001"}) {
    Request request = local("DELETE", "/api/media/sessions/0123456789abcdef");
    request.host = host;
    Response response = call(request);
    EXPECT_EQ(response.status, 403u) << host;
    EXPECT_NE(response.body.find("Host header"), std::string::npos) << response.body;
  }
  // With a token the Host does not matter (a page cannot know the token).
  ApiMetrics other_metrics;
  MediaApi with_token(MediaApiOptions{.api_token = kApiToken}, other_metrics);
  Request request = local("GET", "/api/media/sessions");
  request.host = "evil.example";
  request.authorization = "Bearer read-token-0123456789";
  EXPECT_EQ(call(with_token, request).status, 200u);
}

TEST_F(MediaApiTest, InTokenModeNothingIsServedWithoutAToken) {
  view.token_mode = true;
  for (const Request& request :
       {local("GET", "/api/media/sessions"), local("DELETE", "/api/media/devices/cam-1"),
        drain(R"({"enabled":true})")}) {
    Response response = call(request);
    EXPECT_EQ(response.status, 403u) << request.method << " " << request.path;
    EXPECT_NE(response.body.find("token access mode"), std::string::npos) << response.body;
  }
  EXPECT_TRUE(view.calls().empty());
  // With tokens configured, loopback clients need them like everyone else.
  ApiMetrics other_metrics;
  MediaApi tokens(MediaApiOptions{.api_token = kApiToken, .api_admin_token = kAdminToken},
                  other_metrics);
  EXPECT_EQ(call(tokens, local("GET", "/api/media/sessions")).status, 401u);
  Request read = local("GET", "/api/media/sessions");
  read.authorization = "Bearer read-token-0123456789";
  EXPECT_EQ(call(tokens, read).status, 200u);
  Request write = local("DELETE", "/api/media/devices/cam-1");
  write.authorization = "Bearer admin-token-0123456789";
  EXPECT_EQ(call(tokens, write).status, 200u);
  view.token_mode = false;
  EXPECT_EQ(call(tokens, local("GET", "/api/media/sessions")).status, 401u)
      << "a configured token is needed in any mode";
}

TEST_F(MediaApiTest, ReadsNeedAReadCredentialWhenOneIsConfigured) {
  ApiMetrics other_metrics;
  MediaApi tokens(MediaApiOptions{.api_token = kApiToken}, other_metrics);
  for (const char* authorization :
       {static_cast<const char*>(nullptr), "Bearer read-token-012345678", "Bearer wrong",
        "Bearer read-token-01234567890", "Basic cmVhZC10b2tlbi0wMTIzNDU2Nzg5",
        "read-token-0123456789"}) {
    Request request = local("GET", "/api/media/sessions");
    request.authorization = authorization;
    Response response = call(tokens, request);
    EXPECT_EQ(response.status, 401u) << (authorization ? authorization : "(none)");
    ASSERT_EQ(response.headers.size(), 1u);
    EXPECT_EQ(response.headers[0].first, "WWW-Authenticate");
    EXPECT_EQ(response.headers[0].second, "Bearer realm=\"janus media api\"");
  }
  EXPECT_TRUE(view.calls().empty());
  Request ok = remote("GET", "/api/media/sessions", "Bearer read-token-0123456789");
  EXPECT_EQ(call(tokens, ok).status, 200u) << "a token lets any client in";
  ok.authorization = "bearer   read-token-0123456789 ";
  EXPECT_EQ(call(tokens, ok).status, 200u) << "scheme case and spaces as for /metrics";
  // Writes have no token configured: loopback only, whatever read token is sent.
  EXPECT_EQ(
      call(tokens, remote("DELETE", "/api/media/devices/cam-1", "Bearer read-token-0123456789"))
          .status,
      403u);
  EXPECT_EQ(call(tokens, local("DELETE", "/api/media/devices/cam-1")).status, 200u);
}

TEST_F(MediaApiTest, WritesNeedTheAdminToken) {
  ApiMetrics other_metrics;
  MediaApi tokens(MediaApiOptions{.api_token = kApiToken, .api_admin_token = kAdminToken},
                  other_metrics);
  Request missing = local("DELETE", "/api/media/sessions/0123456789abcdef");
  Response refused = call(tokens, missing);
  EXPECT_EQ(refused.status, 401u) << "even from loopback";
  ASSERT_EQ(refused.headers.size(), 1u);
  EXPECT_EQ(refused.headers[0].second, "Bearer realm=\"janus media api\"");
  Request reader = missing;
  reader.authorization = "Bearer read-token-0123456789";
  EXPECT_EQ(call(tokens, reader).status, 403u) << "a read token does not let writes in";
  Request wrong = drain(R"({"enabled":true})");
  wrong.authorization = "Bearer admin-token-012345678";
  EXPECT_EQ(call(tokens, wrong).status, 401u);
  EXPECT_TRUE(view.calls().empty());
  Request admin =
      remote("DELETE", "/api/media/sessions/0123456789abcdef", "Bearer admin-token-0123456789");
  EXPECT_EQ(call(tokens, admin).status, 200u);
  Request admin_reads = remote("GET", "/api/media/devices", "Bearer admin-token-0123456789");
  EXPECT_EQ(call(tokens, admin_reads).status, 200u) << "the admin token reads too";
}

TEST_F(MediaApiTest, TheMetricsCredentialsLetReadsIn) {
  ApiMetrics other_metrics;
  MediaApi metrics_auth(MediaApiOptions{.metrics_auth = {.bearer_token = "scrape-token-0123456789",
                                                         .basic_user = "prometheus",
                                                         .basic_password = "pw"}},
                        other_metrics);
  Request none = remote("GET", "/api/media/sessions", nullptr);
  Response refused = call(metrics_auth, none);
  EXPECT_EQ(refused.status, 401u);
  std::vector<std::string> challenges;
  for (const auto& [name, value] : refused.headers) challenges.push_back(value);
  EXPECT_EQ(challenges.size(), 2u) << "bearer and basic, as /metrics says";
  EXPECT_EQ(
      call(metrics_auth, remote("GET", "/api/media/sessions", "Bearer scrape-token-0123456789"))
          .status,
      200u);
  // prometheus:pw
  EXPECT_EQ(
      call(metrics_auth, remote("GET", "/api/media/sessions", "Basic cHJvbWV0aGV1czpwdw==")).status,
      200u);
  EXPECT_EQ(
      call(metrics_auth, remote("DELETE", "/api/media/devices/x", "Basic cHJvbWV0aGV1czpwdw=="))
          .status,
      403u)
      << "metrics credentials never write";
}

TEST_F(MediaApiTest, DescribeAccessSaysWhoMayReadAndWrite) {
  EXPECT_EQ(api.describe_access(),
            "reads are served to loopback clients only (no api_token configured); writes are "
            "served to loopback clients only (no api_admin_token configured)");
  ApiMetrics other_metrics;
  MediaApi both(MediaApiOptions{.metrics_auth = {.bearer_token = "x"},
                                .api_token = kApiToken,
                                .api_admin_token = kAdminToken},
                other_metrics);
  EXPECT_EQ(both.describe_access(),
            "reads need api_token or the metrics credentials (or api_admin_token); writes need "
            "api_admin_token");
  EXPECT_EQ(both.describe_access().find("token-0123"), std::string::npos) << "no secret";
}

// --- metrics ------------------------------------------------------------------------------

double sample(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      bool match = metric.label.size() == labels.size();
      for (std::size_t i = 0; match && i < labels.size(); ++i) {
        match =
            metric.label[i].name == labels[i].first && metric.label[i].value == labels[i].second;
      }
      if (!match) continue;
      return family.type == prometheus::MetricType::Histogram
                 ? static_cast<double>(metric.histogram.sample_count)
                 : metric.counter.value;
    }
  }
  return -1;
}

TEST_F(MediaApiTest, EveryAnswerIsCountedByRouteMethodAndCode) {
  auto before = metrics.Collect();
  ASSERT_EQ(before.size(), 2u);
  // Every child a request can reach is there at 0 from the start; no other.
  std::size_t children = 0;
  for (std::size_t r = 0; r < transport::kApiRouteNames.size(); ++r) {
    for (std::size_t m = 0; m < transport::kApiMethodNames.size(); ++m) {
      for (unsigned code : transport::kApiCodes) {
        const auto route = static_cast<transport::ApiRoute>(r);
        const auto method = static_cast<transport::ApiMethod>(m);
        const double value = sample(before, "janus_transport_api_requests_total",
                                    {{"route", std::string(transport::kApiRouteNames[r])},
                                     {"method", std::string(transport::kApiMethodNames[m])},
                                     {"code", std::to_string(code)}});
        EXPECT_EQ(value, ApiMetrics::reachable(route, method, code) ? 0 : -1)
            << transport::kApiRouteNames[r] << " " << transport::kApiMethodNames[m] << " " << code;
        children += value == 0;
      }
    }
  }
  EXPECT_EQ(before[0].metric.size(), children);
  EXPECT_LT(children, 100u) << "a closed set, small enough for every scrape";

  call(local("GET", "/api/media/sessions"));
  call(local("GET", "/api/media/sessions", "limit=x&limit=y"));
  call(local("HEAD", "/api/media/sessions/0123456789abcdef"));
  call(local("PUT", "/api/media/sessions/0123456789abcdef"));
  call(local("GET", "/nope/../api/x"));
  call(remote("DELETE", "/api/media/devices/cam-1", nullptr));
  call(drain(R"({"enabled":true})", "text/plain"));
  view.reply("kick", R"({"media":"event","error_code":1015,"error":"no device"})");
  call(local("DELETE", "/api/media/devices/cam-1"));
  auto after = metrics.Collect();
  auto count = [&](const char* route, const char* method, const char* code) {
    return sample(after, "janus_transport_api_requests_total",
                  {{"route", route}, {"method", method}, {"code", code}});
  };
  EXPECT_EQ(count("sessions", "GET", "200"), 1);
  EXPECT_EQ(count("sessions", "GET", "400"), 1);
  EXPECT_EQ(count("session", "HEAD", "200"), 1);
  EXPECT_EQ(count("session", "other", "405"), 1);
  EXPECT_EQ(count("unknown", "GET", "404"), 1);
  EXPECT_EQ(count("device", "DELETE", "403"), 1);
  EXPECT_EQ(count("device", "DELETE", "404"), 1);
  EXPECT_EQ(count("drain", "POST", "415"), 1);
  EXPECT_EQ(sample(after, "janus_transport_api_request_duration_seconds", {{"route", "sessions"}}),
            2);
  EXPECT_EQ(sample(after, "janus_transport_api_request_duration_seconds", {{"route", "device"}}),
            2);
  EXPECT_EQ(sample(after, "janus_transport_api_request_duration_seconds", {{"route", "unknown"}}),
            1);
}

// --- the helpers --------------------------------------------------------------------------

TEST(Query, PercentDecoding) {
  using transport::percent_decode;
  EXPECT_EQ(percent_decode("a%20b%2Fc%2f", false), "a b/c/");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%00", false), std::string(1, '\0'));
  EXPECT_EQ(percent_decode("", false), "");
  for (const char* bad : {"%", "%4", "%g0", "%0g", "abc%", "%%41"}) {
    EXPECT_FALSE(percent_decode(bad, false).has_value()) << bad;
  }
}

TEST(Query, Pairs) {
  auto params = transport::parse_query("a=1&b=x%20y&&c&=v&a=2&");
  ASSERT_TRUE(params.has_value());
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& p : *params) got.emplace_back(p.name, p.value);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"a", "1"}, {"b", "x y"}, {"c", ""}, {"", "v"}, {"a", "2"}}));
  EXPECT_EQ(transport::parse_query("a==b")->at(0).value, "=b");
  EXPECT_TRUE(transport::parse_query("")->empty());
  EXPECT_FALSE(transport::parse_query("a=%zz").has_value());
  EXPECT_FALSE(transport::parse_query("%=1").has_value());
}

TEST(IsLoopback, TheWholeLoopbackNetworkAndNothingElse) {
  auto v4 = [](const char* ip) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, ip, &address.sin_addr), 1) << ip;
    return transport::is_loopback(reinterpret_cast<const sockaddr*>(&address));
  };
  auto v6 = [](const char* ip) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip, &address.sin6_addr), 1) << ip;
    return transport::is_loopback(reinterpret_cast<const sockaddr*>(&address));
  };
  EXPECT_TRUE(v4("127.0.0.1"));
  EXPECT_TRUE(v4("127.0.0.3"));
  EXPECT_TRUE(v4("127.255.255.254"));
  EXPECT_FALSE(v4("128.0.0.1"));
  EXPECT_FALSE(v4("126.255.255.255"));
  EXPECT_FALSE(v4("192.0.2.2"));
  EXPECT_FALSE(v4("0.0.0.0"));
  EXPECT_FALSE(v4("10.127.0.1"));
  EXPECT_TRUE(v6("::1"));
  EXPECT_TRUE(v6("::ffff:127.0.0.1"));
  EXPECT_TRUE(v6("::ffff:127.1.2.3"));
  EXPECT_FALSE(v6("::ffff:192.0.2.2"));
  EXPECT_FALSE(v6("::2"));
  EXPECT_FALSE(v6("fe80::1"));
  EXPECT_FALSE(v6("::127.0.0.1")) << "IPv4-compatible (deprecated), not mapped";
  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  EXPECT_FALSE(transport::is_loopback(&unix_address));
  EXPECT_FALSE(transport::is_loopback(nullptr));
}

// --- through the server and its sockets ---------------------------------------------------

struct ApiServer {
  explicit ApiServer(unsigned threads = 2)
      : metrics(registry, {"1.1.2", "test"}),
        host(registry),
        api(MediaApiOptions{}, api_metrics),
        server(host, metrics, {.ip = "127.0.0.1", .port = 0, .threads = threads}, &api) {}
  prometheus::Registry registry;
  transport::TransportMetrics metrics;
  FakeServerHost host;
  ApiMetrics api_metrics;
  MediaApi api;
  transport::HttpServer server;
};

TEST_F(MediaApiTest, TheServerHandsApiPathsToItAheadOfItsOwnAuth) {
  prometheus::Registry registry;
  transport::TransportMetrics server_metrics(registry, {"1.1.2", "test"});
  FakeServerHost host(registry);
  // As the transport builds them: both know the metrics credentials.
  const transport::AuthConfig scrape{.bearer_token = "scrape"};
  ApiMetrics other_metrics;
  MediaApi with_auth(MediaApiOptions{.metrics_auth = scrape}, other_metrics);
  transport::HttpServer server(host, server_metrics, {.ip = "127.0.0.1", .port = 0, .auth = scrape},
                               &with_auth);
  // /metrics needs its token; the API's own rules apply under /api/ (a loopback client here).
  EXPECT_EQ(server.handle(local("GET", "/metrics")).status, 401u);
  EXPECT_EQ(server.handle(local("GET", "/api/media/sessions")).status, 401u)
      << "the metrics credentials are configured: reads need them (or api_token)";
  Request with_token = local("GET", "/api/media/sessions");
  with_token.authorization = "Bearer scrape";
  EXPECT_EQ(server.handle(with_token).status, 200u);
  with_token.path = "/apix";
  EXPECT_EQ(server.handle(with_token).status, 404u);
  EXPECT_EQ(server.handle(with_token).content_type, "text/plain; charset=utf-8") << "not the API's";
  EXPECT_TRUE(server.takes_body("POST", "/api/media/drain"));
  EXPECT_FALSE(server.takes_body("GET", "/api/media/drain"));
  EXPECT_FALSE(server.takes_body("POST", "/api/media/sessions"));
  EXPECT_FALSE(server.takes_body("POST", "/metrics"));
}

TEST_F(MediaApiTest, ReadsRunOnSeveralThreadsAtOnce) {
  ApiServer s(2);
  std::string error;
  ASSERT_TRUE(s.server.start(error)) << error;
  view.hold_until_inside = 2;  // each read waits (5 s at most) until the other one is inside
  const auto started = std::chrono::steady_clock::now();
  auto fetch = [&] {
    std::string fetch_error;
    auto reply = http_request(s.server.port(), "GET", "/api/media/sessions", {}, fetch_error);
    return reply ? reply->status : 0;
  };
  auto first = std::async(std::launch::async, fetch);
  // The second connection once the first read is inside: a pool thread accepts the
  // connections that wait together in one go (libmicrohttpd's epoll loop takes up to 10), and
  // serves those one after the other.
  for (int i = 0; i < 5000 && view.calls().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(view.calls().size(), 1u);
  auto second = std::async(std::launch::async, fetch);
  EXPECT_EQ(first.get(), 200);
  EXPECT_EQ(second.get(), 200);
  EXPECT_EQ(view.most_inside.load(), 2) << "both reads were inside the view together";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4))
      << "neither waited for the other's timeout";
}

TEST_F(MediaApiTest, OverTheSocketBodiesAreBoundedAndHeadHasNoBody) {
  ApiServer s(1);
  std::string error;
  ASSERT_TRUE(s.server.start(error)) << error;
  const auto port = s.server.port();
  const std::vector<std::string> json = {"Content-Type: application/json"};

  auto ok =
      http_request(port, "POST", "/api/media/drain", json, error, 5000, R"({"enabled":true})");
  ASSERT_TRUE(ok.has_value()) << error;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->header("content-type"), "application/json");
  EXPECT_EQ(ok->header("cache-control"), "no-store");
  EXPECT_EQ(view.last_call(), R"(command {"enabled":true,"request":"drain"})");

  // Announced too large: 413 on the headers, the body never read.
  view.clear();
  auto large = http_request(port, "POST", "/api/media/drain", json, error, 5000,
                            std::string(5000, ' ') + R"({"enabled":true})");
  ASSERT_TRUE(large.has_value()) << error;
  EXPECT_EQ(large->status, 413);
  EXPECT_TRUE(view.calls().empty());

  // Chunked: a small body is read whole; one over the limit closes the connection.
  const std::vector<std::string> chunked = {"Content-Type: application/json",
                                            "Transfer-Encoding: chunked"};
  auto small = http_request(port, "POST", "/api/media/drain", chunked, error, 5000,
                            "9\r\n{\"enabled\r\n8\r\n\":false}\r\n0\r\n\r\n");
  ASSERT_TRUE(small.has_value()) << error;
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(view.last_call(), R"(command {"enabled":false,"request":"drain"})");
  view.clear();
  std::string endless;
  for (int i = 0; i < 20; ++i) endless += "400\r\n" + std::string(1024, ' ') + "\r\n";
  auto cut = http_request(port, "POST", "/api/media/drain", chunked, error, 5000, endless);
  EXPECT_FALSE(cut.has_value() && cut->status == 200);
  EXPECT_TRUE(view.calls().empty());

  auto head = http_request(port, "HEAD", "/api/media/sessions", {}, error);
  ASSERT_TRUE(head.has_value()) << error;
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(head->header("content-type"), "application/json");

  // The server is still fine.
  auto after = http_request(port, "GET", "/api/media/devices", {}, error);
  ASSERT_TRUE(after.has_value()) << error;
  EXPECT_EQ(after->status, 200);
}

}  // namespace
}  // namespace jmedia::testing
