#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/counter.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../../transport/process_metrics.h"
#include "../../transport/runtime_host.h"
#include "http_client.h"
#include "runtime.h"
#include "test_server.h"

namespace jmedia::testing {

namespace {

using transport::AuthConfig;
using transport::HttpServer;

HttpReply get(std::uint16_t port, const std::string& path,
              const std::vector<std::string>& headers = {}, const std::string& method = "GET",
              const std::string& body = "") {
  std::string error;
  auto reply = http_request(port, method, path, headers, error, 5000, body);
  EXPECT_TRUE(reply.has_value()) << method << " " << path << ": " << error;
  return reply.value_or(HttpReply{});
}

void start(TestServer& s) {
  std::string error;
  ASSERT_TRUE(s.server.start(error)) << error;
  ASSERT_TRUE(s.server.running());
  ASSERT_NE(s.server.port(), 0);
}

// A loopback TCP socket that holds a port (listening), closed at scope exit.
struct HeldPort {
  int fd = -1;
  std::uint16_t port = 0;
  HeldPort() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        listen(fd, 4) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port = ntohs(address.sin_port);
    }
  }
  ~HeldPort() {
    if (fd >= 0) close(fd);
  }
};

int open_fd_count() {
  return static_cast<int>(*transport::read_process_stats().open_fds);
}

TEST(HttpServer, MetricsHaveTheTextFormatContentTypeAndTheRegistry) {
  TestServer s;
  auto& events = prometheus::BuildCounter()
                     .Name("test_events_total")
                     .Help("Events seen by the test.")
                     .Register(s.registry)
                     .Add({{"kind", "x"}});
  events.Increment(3);
  start(s);

  HttpReply reply = get(s.server.port(), "/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(reply.body.find("# TYPE test_events_total counter\n"), std::string::npos) << reply.body;
  EXPECT_EQ(sample_value(reply.body, "test_events_total{kind=\"x\"}"), 3) << reply.body;
  // The transport's own metrics, counted before serialising: this scrape is included.
  EXPECT_EQ(sample_value(reply.body, "janus_transport_scrapes_total"), 1) << reply.body;
  EXPECT_EQ(
      sample_value(reply.body, "janus_build_info{janus_version=\"1.1.2\",module_version=\"test\"}"),
      1)
      << reply.body;
  for (unsigned code : transport::TransportMetrics::kCodes) {
    EXPECT_EQ(sample_value(reply.body, "janus_transport_http_requests_total{code=\"" +
                                           std::to_string(code) + "\"}"),
              0)
        << "child for " << code << " registered at start\n"
        << reply.body;
  }
  EXPECT_EQ(s.host.collects.load(), 1) << "serialised once per scrape";

  // The next scrape sees the first one's response and duration.
  reply = get(s.server.port(), "/metrics");
  EXPECT_EQ(sample_value(reply.body, "janus_transport_scrapes_total"), 2);
  EXPECT_EQ(sample_value(reply.body, "janus_transport_http_requests_total{code=\"200\"}"), 1);
  EXPECT_EQ(sample_value(reply.body, "janus_transport_scrape_duration_seconds_count"), 1);
  EXPECT_EQ(s.host.collects.load(), 2);
}

TEST(HttpServer, HealthzIsOkWhileRunning) {
  TestServer s;
  start(s);
  HttpReply reply = get(s.server.port(), "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
  EXPECT_EQ(s.host.collects.load(), 0) << "only /metrics collects";
}

TEST(HttpServer, ReadyzFollowsTheHost) {
  TestServer s;
  start(s);
  EXPECT_EQ(get(s.server.port(), "/readyz").status, 200);
  s.host.ready = false;
  HttpReply reply = get(s.server.port(), "/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "not ready: draining\n");
  s.host.ready = true;
  EXPECT_EQ(get(s.server.port(), "/readyz").status, 200);
}

// The production host: readiness comes from libjmedia_runtime's flags.
class RuntimeReadiness : public ::testing::Test {
 protected:
  void TearDown() override {
    runtime::set_plugin_draining(false);
    runtime::set_core_accepting(true);
  }
};

TEST_F(RuntimeReadiness, ReadyzIs503WhileThePluginDrainsOrTheCoreRefuses) {
  prometheus::Registry registry;
  transport::TransportMetrics metrics(registry, {"1.1.2", "test"});
  transport::RuntimeHost host;
  HttpServer server(host, metrics, {.ip = "127.0.0.1", .port = 0});
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;

  EXPECT_EQ(get(server.port(), "/readyz").status, 200);
  runtime::set_plugin_draining(true);
  HttpReply reply = get(server.port(), "/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("draining"), std::string::npos) << reply.body;
  EXPECT_EQ(get(server.port(), "/healthz").status, 200) << "draining is not unhealthy";
  runtime::set_plugin_draining(false);
  EXPECT_EQ(get(server.port(), "/readyz").status, 200);
  runtime::set_core_accepting(false);
  EXPECT_EQ(get(server.port(), "/readyz").status, 503);
  runtime::set_core_accepting(true);
  EXPECT_EQ(get(server.port(), "/readyz").status, 200);
}

TEST(HttpServer, UnknownPathsAre404) {
  TestServer s;
  start(s);
  for (const char* path : {"/", "/nope", "/metrics/", "/metricsx", "/healthz/extra"}) {
    EXPECT_EQ(get(s.server.port(), path).status, 404) << path;
  }
  // A query string does not change the route.
  EXPECT_EQ(get(s.server.port(), "/healthz?verbose=1").status, 200);
}

TEST(HttpServer, OtherMethodsAre405WithAllow) {
  TestServer s;
  start(s);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    HttpReply reply = get(s.server.port(), "/metrics", {}, method);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.header("allow"), "GET, HEAD") << method;
  }
  HttpReply with_body = get(s.server.port(), "/healthz", {}, "POST", std::string(10000, 'x'));
  EXPECT_EQ(with_body.status, 405);
  EXPECT_EQ(s.host.collects.load(), 0);
  // The server still answers afterwards.
  EXPECT_EQ(get(s.server.port(), "/healthz").status, 200);
}

TEST(HttpServer, HeadIsGetWithoutABody) {
  TestServer s;
  start(s);
  HttpReply full = get(s.server.port(), "/healthz");
  HttpReply head = get(s.server.port(), "/healthz", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(full.header("content-length"), "3");
  EXPECT_EQ(head.header("content-length"), full.header("content-length"));
  EXPECT_EQ(head.header("content-type"), full.header("content-type"));

  HttpReply metrics = get(s.server.port(), "/metrics", {}, "HEAD");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body, "");
  EXPECT_EQ(metrics.header("content-type"), transport::kMetricsContentType);
  EXPECT_GT(std::atoi(metrics.header("content-length").c_str()), 100);
}

TEST(HttpServer, BearerTokenIsRequiredWhenConfigured) {
  TestServer s(AuthConfig{.bearer_token = "s3cret-token"});
  start(s);
  const auto port = s.server.port();

  HttpReply missing = get(port, "/metrics");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.header("www-authenticate"), "Bearer realm=\"janus metrics\"");
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Bearer s3cret-toke"}).status, 401);
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Bearer s3cret-token2"}).status, 401);
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Basic czNjcmV0LXRva2VuOng="}).status, 401);
  EXPECT_EQ(get(port, "/healthz").status, 401) << "every endpoint is protected";
  EXPECT_EQ(s.host.collects.load(), 0) << "nothing collected for a refused scrape";

  HttpReply ok = get(port, "/metrics", {"Authorization: Bearer s3cret-token"});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(sample_value(ok.body, "janus_transport_http_requests_total{code=\"401\"}"), 6)
      << ok.body;
  EXPECT_EQ(get(port, "/readyz", {"Authorization: bearer s3cret-token"}).status, 200)
      << "the scheme is case-insensitive";
}

TEST(HttpServer, BasicCredentialsAreRequiredWhenConfigured) {
  TestServer s(AuthConfig{.basic_user = "prometheus", .basic_password = "pa:ss word"});
  start(s);
  const auto port = s.server.port();

  HttpReply missing = get(port, "/metrics");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.header("www-authenticate"), "Basic realm=\"janus metrics\", charset=\"UTF-8\"");
  // prometheus:wrong, other:pa:ss word, and garbage.
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Basic cHJvbWV0aGV1czp3cm9uZw=="}).status, 401);
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Basic b3RoZXI6cGE6c3Mgd29yZA=="}).status, 401);
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Basic !!!"}).status, 401);
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Bearer pa:ss word"}).status, 401);
  // prometheus:pa:ss word
  EXPECT_EQ(get(port, "/metrics", {"Authorization: Basic cHJvbWV0aGV1czpwYTpzcyB3b3Jk"}).status,
            200);
}

TEST(HttpServer, EitherSchemeWorksWhenBothAreConfigured) {
  TestServer s(AuthConfig{.bearer_token = "t", .basic_user = "u", .basic_password = "p"});
  start(s);
  const auto port = s.server.port();
  HttpReply missing = get(port, "/healthz");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers.count("www-authenticate"), 2u);
  EXPECT_EQ(get(port, "/healthz", {"Authorization: Bearer t"}).status, 200);
  EXPECT_EQ(get(port, "/healthz", {"Authorization: Basic dTpw"}).status, 200);  // u:p
  EXPECT_EQ(get(port, "/healthz", {"Authorization: Basic dTp0"}).status, 401);  // u:t
}

TEST(HttpServer, AFailingCollectIs500AndTheServerCarriesOn) {
  TestServer s;
  start(s);
  s.host.fail_collect = true;
  EXPECT_EQ(get(s.server.port(), "/metrics").status, 500);
  s.host.fail_collect = false;
  HttpReply reply = get(s.server.port(), "/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(sample_value(reply.body, "janus_transport_http_requests_total{code=\"500\"}"), 1);
}

TEST(HttpServer, ATakenPortFailsCleanly) {
  HeldPort held;
  ASSERT_NE(held.port, 0);
  const int fds_before = open_fd_count();
  {
    TestServer s({}, held.port);
    std::string error;
    EXPECT_FALSE(s.server.start(error));
    EXPECT_FALSE(s.server.running());
    EXPECT_EQ(s.server.port(), 0);
    EXPECT_NE(error.find("127.0.0.1:" + std::to_string(held.port)), std::string::npos) << error;
    EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
  }
  EXPECT_EQ(open_fd_count(), fds_before) << "no socket left open";
}

TEST(HttpServer, ASecondServerOnTheSamePortFailsAndTheFirstKeepsServing) {
  TestServer first;
  start(first);
  TestServer second({}, first.server.port());
  std::string error;
  EXPECT_FALSE(second.server.start(error));
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
  EXPECT_EQ(get(first.server.port(), "/healthz").status, 200);
}

TEST(HttpServer, AnInvalidAddressFailsCleanly) {
  prometheus::Registry registry;
  transport::TransportMetrics metrics(registry, {"1.1.2", "test"});
  FakeServerHost host(registry);
  HttpServer server(host, metrics, {.ip = "localhost", .port = 0});
  std::string error;
  EXPECT_FALSE(server.start(error));
  EXPECT_NE(error.find("invalid listen address"), std::string::npos) << error;
}

TEST(HttpServer, ListensOnIpv6Loopback) {
  prometheus::Registry registry;
  transport::TransportMetrics metrics(registry, {"1.1.2", "test"});
  FakeServerHost host(registry);
  HttpServer server(host, metrics, {.ip = "::1", .port = 0});
  std::string error;
  if (!server.start(error)) {
    // Only acceptable when the machine has no IPv6 loopback at all.
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    const bool ipv6 =
        probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    if (probe >= 0) close(probe);
    ASSERT_FALSE(ipv6) << "IPv6 loopback works but the server did not start: " << error;
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  EXPECT_NE(server.port(), 0);
}

TEST(HttpServer, StopJoinsTheThreadAndReleasesThePort) {
  // A sanitizer runtime may start a helper thread with the first thread: start one first.
  std::thread([] {}).join();
  const int fds_before = open_fd_count();
  const double threads_before = *transport::read_process_stats().threads;
  std::uint16_t port = 0;
  {
    TestServer s;
    start(s);
    port = s.server.port();
    EXPECT_EQ(get(port, "/healthz").status, 200);
    EXPECT_EQ(*transport::read_process_stats().threads, threads_before + 1) << "one server thread";
    s.server.stop();
    EXPECT_FALSE(s.server.running());
    s.server.stop();  // idempotent
    std::string error;
    EXPECT_NE(http_request(port, "GET", "/healthz", {}, error).has_value(), true)
        << "nothing listens after stop()";
  }
  EXPECT_EQ(*transport::read_process_stats().threads, threads_before) << "server thread joined";
  EXPECT_EQ(open_fd_count(), fds_before) << "listen socket and server fds closed";

  // The port can be bound again at once.
  TestServer again({}, port);
  start(again);
  EXPECT_EQ(again.server.port(), port);
  EXPECT_EQ(get(port, "/healthz").status, 200);
}

TEST(HttpServer, ConcurrentScrapesAreAllCounted) {
  TestServer s;
  start(s);
  constexpr int kThreads = 4, kScrapes = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < kScrapes; ++i) {
        std::string error;
        auto reply = http_request(s.server.port(), "GET", "/metrics", {}, error);
        if (reply && reply->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok.load(), kThreads * kScrapes);
  HttpReply last = get(s.server.port(), "/metrics");
  EXPECT_EQ(sample_value(last.body, "janus_transport_scrapes_total"), kThreads * kScrapes + 1);
  EXPECT_EQ(sample_value(last.body, "janus_transport_http_requests_total{code=\"200\"}"),
            kThreads * kScrapes);
}

// Reads everything the server sends on fd until it closes or `replies` status lines came, with
// their bodies (Content-Length), each wait bounded.
std::string read_replies(int fd, int replies) {
  std::string raw;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto complete = [&] {
    int seen = 0;
    std::size_t at = 0;
    while (seen < replies) {
      const std::size_t head_end = raw.find("\r\n\r\n", at);
      if (head_end == std::string::npos) return false;
      const std::size_t length_at = raw.find("Content-Length: ", at);
      std::size_t length = 0;
      if (length_at != std::string::npos && length_at < head_end) {
        length = std::stoul(raw.substr(length_at + 16));
      }
      if (raw.size() < head_end + 4 + length) return false;
      at = head_end + 4 + length;
      ++seen;
    }
    return true;
  };
  while (!complete() && std::chrono::steady_clock::now() < deadline) {
    pollfd waiting{fd, POLLIN, 0};
    if (poll(&waiting, 1, 100) != 1) continue;
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  return raw;
}

int connect_loopback(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return fd;
}

// Clients that keep their connection (wrk, Prometheus, curl --next) get every answer on it:
// libmicrohttpd 0.9.75 closes a connection whose response was queued before the request was
// complete, so requests without a body are answered once it is.
TEST(HttpServer, KeepAliveConnectionsServeSeveralRequests) {
  TestServer s;
  start(s);
  const int fd = connect_loopback(s.server.port());
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
    const std::string reply = read_replies(fd, 1);
    EXPECT_EQ(reply.rfind("HTTP/1.1 200 ", 0), 0u) << "request " << i << ": " << reply;
    EXPECT_EQ(reply.find("Connection: close"), std::string::npos) << reply;
  }
  // Pipelined: both answered, in order.
  const std::string two = get + "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(send(fd, two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
  const std::string replies = read_replies(fd, 2);
  EXPECT_NE(replies.find("ok\n"), std::string::npos) << replies;
  EXPECT_NE(replies.find("ready\n"), std::string::npos) << replies;
  close(fd);
}

TEST(HttpServer, RouterAnswersWithoutASocket) {
  // handle() is the whole policy; the socket layer only converts.
  TestServer s(AuthConfig{.bearer_token = "t"});
  using transport::Request;
  EXPECT_EQ(s.server.handle(Request{"GET", "/healthz", nullptr}).status, 401u);
  EXPECT_EQ(s.server.handle(Request{"GET", "/nope", "Bearer t"}).status, 404u);
  EXPECT_EQ(s.server.handle(Request{"POST", "/nope", "Bearer t"}).status, 404u);
  EXPECT_EQ(s.server.handle(Request{"POST", "/readyz", "Bearer t"}).status, 405u);
  EXPECT_EQ(s.server.handle(Request{"HEAD", "/readyz", "Bearer t"}).status, 200u);
}

}  // namespace
}  // namespace jmedia::testing
