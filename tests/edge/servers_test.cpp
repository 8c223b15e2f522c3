// The edge's WebSocket server and HTTP API against a fake core, on free loopback ports: each
// bound answered as the issue says, and nothing refused reaching the core.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "../../edge/edge.h"
#include "../../edge/http_api.h"
#include "../../edge/ws_server.h"
#include "../transport/http_client.h"
#include "fake_core.h"
#include "ws_client.h"

namespace jmedia::edge {
namespace {

using testing::FakeCore;
using testing::WsClient;
using testing::WsFrame;

struct Rig {
  explicit Rig(const std::function<void(EdgeConfig&)>& tweak = {},
               runtime::PcWatch* watch = nullptr) {
    config.ws.port = 0;
    config.http.port = 0;
    if (tweak) tweak(config);
    edge = std::make_unique<Edge>(config, core, metrics, CandidatePolicy{.max_ice_candidates = 50},
                                  nullptr, watch);
    ws = std::make_unique<WsServer>(*edge);
    http = std::make_unique<HttpApi>(*edge);
    std::string error;
    started = ws->start(error) && http->start(error);
    EXPECT_TRUE(started) << error;
  }
  ~Rig() {
    ws->stop();
    http->stop();
    core.stop();
  }

  EdgeConfig config;
  FakeCore core;
  EdgeMetrics metrics;
  std::unique_ptr<Edge> edge;
  std::unique_ptr<WsServer> ws;
  std::unique_ptr<HttpApi> http;
  bool started = false;
};

JsonPtr json_of(const std::string& text) {
  JsonPtr value = adopt(json_loads(text.c_str(), 0, nullptr));
  EXPECT_NE(value, nullptr) << text;
  return value;
}

std::int64_t error_code(const std::string& text) {
  JsonPtr reply = json_of(text);
  return integer_member(member(reply.get(), "error"), "code").value_or(0);
}

// --- WebSocket ------------------------------------------------------------------------------

TEST(EdgeWsTest, RequestsReachTheCoreAndAnswersComeBack) {
  Rig rig;
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  ASSERT_TRUE(client.send_text(R"({"janus":"ping","transaction":"p1"})"));
  std::optional<WsFrame> answer = client.read_text();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->payload, R"({"janus":"pong","transaction":"p1"})");
  EXPECT_EQ(rig.core.requests(), 1u);
  EXPECT_EQ(rig.metrics.requests(Transport::kWebSocket, Verb::kPing, Result::kSuccess), 1u);
  EXPECT_EQ(rig.metrics.connections(Transport::kWebSocket), 1);
}

TEST(EdgeWsTest, ManyConnectionsAreServedOnEpoll) {
  Rig rig([](EdgeConfig& c) { c.max_connections_per_ip = 1000; });
  // poll() would cost every event in proportion to the connections open.
  EXPECT_STREQ(rig.ws->event_loop(), "libev (epoll)");
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<WsClient>(rig.ws->port()));
    ASSERT_TRUE(clients.back()->open()) << "connection " << i;
  }
  for (int i : {0, 99, 199}) {
    const std::string ping = R"({"janus":"ping","transaction":"p)" + std::to_string(i) + R"("})";
    ASSERT_TRUE(clients[static_cast<std::size_t>(i)]->send_text(ping));
    std::optional<WsFrame> answer = clients[static_cast<std::size_t>(i)]->read_text();
    ASSERT_TRUE(answer) << "connection " << i;
    EXPECT_NE(answer->payload.find(R"("pong")"), std::string::npos) << answer->payload;
  }
  EXPECT_EQ(rig.metrics.connections(Transport::kWebSocket), 200);
}

TEST(EdgeWsTest, AHandshakeBeyondMaxPendingWaitsForASlotAndIsThenServed) {
  Rig rig([](EdgeConfig& c) {
    c.max_pending_handshakes = 1;
    c.handshake_timeout_s = 1;
  });
  // Holds the one handshake slot: headers begun, never finished.
  WsClient staller(rig.ws->port(), 0, "127.0.0.1", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  ASSERT_FALSE(staller.open());
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  // Its slot came from the staller, closed at its handshake timeout before the 101 was sent;
  // without the bound the client would be served at once, the staller still open.
  EXPECT_TRUE(staller.closed_by_server(200));
  ASSERT_TRUE(client.send_text(R"({"janus":"ping","transaction":"p"})"));
  std::optional<WsFrame> pong = client.read_text();
  ASSERT_TRUE(pong);
  EXPECT_NE(pong->payload.find(R"("pong")"), std::string::npos) << pong->payload;
}

TEST(EdgeWsTest, AMessageOverTheCapIsClosedWith1009BeforeItIsRead) {
  Rig rig([](EdgeConfig& c) { c.max_message_bytes = 4096; });
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  ASSERT_TRUE(client.send_partial(std::uint64_t{200} << 20, std::string(1000, ' ')));
  std::optional<WsFrame> close = client.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1009);
  EXPECT_EQ(close->close_reason(), "message too big");
  EXPECT_TRUE(rig.core.wait_until([&] {
    return rig.metrics.disconnections(Transport::kWebSocket, Disconnect::kMessageTooBig) == 1;
  }));
  EXPECT_EQ(rig.metrics.refusals(Refusal::kMessageTooBig), 1u);
  EXPECT_EQ(rig.core.requests(), 0u);
}

TEST(EdgeWsTest, SeveralDocumentsInOneMessageAreOneErrorAndNothingForTheCore) {
  Rig rig;
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  client.send_text(R"({"janus":"ping","transaction":"a"}{"janus":"ping","transaction":"b"})");
  std::optional<WsFrame> error = client.read_text();
  ASSERT_TRUE(error);
  EXPECT_EQ(error_code(error->payload), kErrorInvalidJson);
  client.send_text(R"({"janus":"ping","transaction":"c"})");
  std::optional<WsFrame> pong = client.read_text();
  ASSERT_TRUE(pong);
  EXPECT_NE(pong->payload.find("\"c\""), std::string::npos);
  EXPECT_EQ(rig.core.requests(), 1u);  // only the last one
}

TEST(EdgeWsTest, RequestsOverTheRateAreRefusedAndNeverReachTheCore) {
  Rig rig([](EdgeConfig& c) {
    c.max_requests_per_s = 5;
    c.request_burst = 5;
    c.abuse_window_s = 60;
  });
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  for (int i = 0; i < 20; ++i) {
    client.send_text(R"({"janus":"ping","transaction":"t)" + std::to_string(i) + "\"}");
  }
  int pongs = 0, refused = 0;
  for (int i = 0; i < 20; ++i) {
    std::optional<WsFrame> frame = client.read_text();
    ASSERT_TRUE(frame) << "after " << i;
    if (frame->payload.find("pong") != std::string::npos) ++pongs;
    if (error_code(frame->payload) == kErrorTooManyRequests) ++refused;
  }
  // The burst, plus what refilled while they were read (at 5/s: at most one or two).
  EXPECT_GE(pongs, 5);
  EXPECT_LE(pongs, 7);
  EXPECT_EQ(pongs + refused, 20);
  EXPECT_EQ(rig.core.requests(), static_cast<std::size_t>(pongs));
  EXPECT_EQ(rig.metrics.refusals(Refusal::kRateLimited), static_cast<std::uint64_t>(refused));
  EXPECT_EQ(rig.metrics.requests(Transport::kWebSocket, Verb::kPing, Result::kRefused),
            static_cast<std::uint64_t>(refused));
}

TEST(EdgeWsTest, AConnectionStillOverTheRateAfterTheAbuseWindowIsClosed) {
  Rig rig([](EdgeConfig& c) {
    c.max_requests_per_s = 5;
    c.request_burst = 5;
    c.abuse_window_s = 1;
  });
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  const auto start = std::chrono::steady_clock::now();
  std::optional<WsFrame> close;
  for (int i = 0; i < 400 && !close; ++i) {
    if (!client.send_text(R"({"janus":"ping"})")) break;
    while (std::optional<WsFrame> frame = client.read(5)) {
      if (frame->opcode == 8) {
        close = frame;
        break;
      }
    }
  }
  if (!close) close = client.read_until_close(3000);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1008);
  EXPECT_EQ(close->close_reason(), "rate limited");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_TRUE(rig.core.wait_until([&] {
    return rig.metrics.disconnections(Transport::kWebSocket, Disconnect::kRateLimited) == 1;
  }));
}

TEST(EdgeWsTest, AClientThatNeverReadsIsClosedAsASlowConsumerAndItsQueueFreed) {
  Rig rig;  // 256 messages, 1 MiB, 1 s
  WsClient client(rig.ws->port(), 4096);
  ASSERT_TRUE(client.open());
  client.send_text(R"({"janus":"create","transaction":"c"})");
  ASSERT_TRUE(client.read_text());
  janus_transport_session* ts = rig.core.last_creator();
  ASSERT_NE(ts, nullptr);
  const std::string padding(200, 'x');
  int pushed = 0;
  for (; pushed < 100000; ++pushed) {
    FakeCore::send_event(ts, json_pack("{s:s,s:I,s:s}", "janus", "event", "session_id",
                                       static_cast<json_int_t>(rig.core.last_session_id()),
                                       "padding", padding.c_str()));
    if (rig.metrics.disconnections(Transport::kWebSocket, Disconnect::kSlowConsumer) == 1) break;
  }
  EXPECT_TRUE(rig.core.wait_until([&] {
    return rig.metrics.disconnections(Transport::kWebSocket, Disconnect::kSlowConsumer) == 1;
  }));
  EXPECT_TRUE(rig.core.wait_until([&] { return rig.core.gone(ts); }));  // the core told
  EXPECT_EQ(rig.metrics.queued_bytes().load(), 0);
  EXPECT_LT(pushed, 100000);
  EXPECT_TRUE(client.closed_by_server());
}

TEST(EdgeWsTest, AClientThatNeverAnswersPingsIsClosedAndOneThatDoesStays) {
  Rig rig([](EdgeConfig& c) {
    c.ping_interval_s = 1;
    c.pong_timeout_s = 1;
  });
  WsClient deaf(rig.ws->port());
  WsClient alive(rig.ws->port());
  ASSERT_TRUE(deaf.open());
  ASSERT_TRUE(alive.open());
  auto alive_reader = std::async(std::launch::async, [&] {
    // Answers every ping for 3 s, then asks something.
    alive.read_text(3000, true);
    alive.send_text(R"({"janus":"ping","transaction":"still"})");
    return alive.read_text(3000, true);
  });
  std::optional<WsFrame> close = deaf.read_until_close(5000);  // sees the pings, never answers
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1008);
  EXPECT_EQ(close->close_reason(), "pong timeout");
  std::optional<WsFrame> answer = alive_reader.get();
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->opcode, 1) << answer->close_code() << " " << answer->close_reason();
  EXPECT_NE(answer->payload.find("still"), std::string::npos);
  EXPECT_TRUE(rig.core.wait_until([&] {
    return rig.metrics.disconnections(Transport::kWebSocket, Disconnect::kPongTimeout) == 1;
  }));
}

TEST(EdgeWsTest, AConnectionOverThePerAddressLimitIsClosedWith1013) {
  Rig rig([](EdgeConfig& c) { c.max_connections_per_ip = 1; });
  WsClient first(rig.ws->port());
  ASSERT_TRUE(first.open());
  WsClient second(rig.ws->port());
  std::optional<WsFrame> close = second.read_until_close(5000);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1013);
  EXPECT_EQ(close->close_reason(), "too many connections");
  EXPECT_EQ(rig.metrics.refusals(Refusal::kConnectionLimit), 1u);
  // Another address is a client of its own.
  WsClient other(rig.ws->port(), 0, "127.0.0.2");
  ASSERT_TRUE(other.open());
  other.send_text(R"({"janus":"ping"})");
  EXPECT_TRUE(other.read_text());
  first.send_text(R"({"janus":"ping"})");
  EXPECT_TRUE(first.read_text());
}

TEST(EdgeWsTest, ATrickleOverTheCandidateCapIsRefusedUntilTheHandleHangsUp) {
  Rig rig;  // max_ice_candidates = 50
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  client.send_text(R"({"janus":"create","transaction":"c"})");
  JsonPtr created = json_of(client.read_text()->payload);
  const auto session = integer_member(member(created.get(), "data"), "id").value_or(0);
  client.send_text(
      R"({"janus":"attach","plugin":"janus.plugin.echotest","transaction":"a","session_id":)" +
      std::to_string(session) + "}");
  JsonPtr attached = json_of(client.read_text()->payload);
  const auto handle = integer_member(member(attached.get(), "data"), "id").value_or(0);
  const auto trickle = [&](int count) {
    std::string candidates;
    for (int i = 0; i < count; ++i) {
      candidates += std::string(i ? "," : "") + R"({"candidate":"candidate:1 1 udp 1 127.0.0.1 )" +
                    std::to_string(1000 + i) + R"( typ host","sdpMid":"0"})";
    }
    client.send_text(R"({"janus":"trickle","transaction":"t","session_id":)" +
                     std::to_string(session) + R"(,"handle_id":)" + std::to_string(handle) +
                     R"(,"candidates":[)" + candidates + "]}");
    return client.read_text()->payload;
  };
  const std::size_t before = rig.core.requests();
  EXPECT_EQ(error_code(trickle(30)), 0);
  EXPECT_EQ(error_code(trickle(30)), kErrorTooManyCandidates);    // 60 > 50: refused whole
  EXPECT_EQ(error_code(trickle(2000)), kErrorTooManyCandidates);  // alone over the cap
  EXPECT_EQ(rig.core.requests(), before + 1);
  EXPECT_EQ(rig.metrics.refusals(Refusal::kTooManyCandidates), 2u);
  // The core tells the client its PeerConnection was hung up: a new one counts from zero.
  FakeCore::send_event(rig.core.last_creator(),
                       json_pack("{s:s,s:I,s:I,s:s}", "janus", "hangup", "session_id",
                                 static_cast<json_int_t>(session), "sender",
                                 static_cast<json_int_t>(handle), "reason", "test"));
  ASSERT_TRUE(client.read_text());  // the hangup itself
  EXPECT_EQ(error_code(trickle(50)), 0);
  EXPECT_EQ(rig.core.requests(), before + 2);
}

// Issue 18: a hangup and a detach sent while the handle's ICE negotiates wait for its first
// selected pair (reported through the PcWatch), then reach the core in order.
struct NegotiatingHandle {
  std::uint64_t session = 0;
  std::uint64_t handle = 0;
  std::string ids() const {
    return R"("session_id":)" + std::to_string(session) + R"(,"handle_id":)" +
           std::to_string(handle);
  }
};

NegotiatingHandle negotiate(WsClient& client) {
  NegotiatingHandle h;
  client.send_text(R"({"janus":"create","transaction":"c"})");
  JsonPtr created = json_of(client.read_text()->payload);
  h.session =
      static_cast<std::uint64_t>(integer_member(member(created.get(), "data"), "id").value_or(0));
  client.send_text(
      R"({"janus":"attach","plugin":"janus.plugin.echotest","transaction":"a","session_id":)" +
      std::to_string(h.session) + "}");
  JsonPtr attached = json_of(client.read_text()->payload);
  h.handle =
      static_cast<std::uint64_t>(integer_member(member(attached.get(), "data"), "id").value_or(0));
  client.send_text(R"({"janus":"message","transaction":"m","body":{},)" + h.ids() +
                   R"(,"jsep":{"type":"offer","sdp":"v=0\r\n"}})");
  EXPECT_TRUE(client.read_text());  // the core's answer: ICE is under way
  return h;
}

TEST(EdgeWsTest, AHangupAndDetachWhileIceNegotiatesWaitForTheFirstPairInOrder) {
  runtime::PcWatch watch;
  watch.start_feeding();
  Rig rig({}, &watch);
  WsClient client(rig.ws->port());
  ASSERT_TRUE(client.open());
  const NegotiatingHandle h = negotiate(client);
  const std::size_t before = rig.core.requests();
  client.send_text(R"({"janus":"hangup","transaction":"h",)" + h.ids() + "}");
  client.send_text(R"({"janus":"detach","transaction":"d",)" + h.ids() + "}");
  client.send_text(R"({"janus":"trickle","transaction":"t","candidate":{"completed":true},)" +
                   h.ids() + "}");
  // A ping after them goes first (it is of no handle): its pong shows they were read.
  client.send_text(R"({"janus":"ping","transaction":"p"})");
  std::optional<WsFrame> pong = client.read_text();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->payload, R"({"janus":"pong","transaction":"p"})");
  EXPECT_EQ(rig.core.requests(), before + 1);  // the ping only
  EXPECT_EQ(rig.metrics.held_requests(Verb::kHangup), 1u);
  EXPECT_EQ(rig.metrics.held_requests(Verb::kDetach), 1u);
  EXPECT_EQ(rig.metrics.held_requests(Verb::kTrickle), 1u);

  watch.settled({h.session, h.handle});  // janus.eventhandler.media: the first selected pair
  std::vector<std::string> transactions;
  for (int i = 0; i < 3; ++i) {
    std::optional<WsFrame> answer = client.read_text();
    ASSERT_TRUE(answer);
    JsonPtr reply = json_of(answer->payload);
    transactions.emplace_back(string_member(reply.get(), "transaction").value_or(""));
  }
  EXPECT_EQ(transactions, (std::vector<std::string>{"h", "d", "t"}));
  EXPECT_NE(rig.core.request_text(before + 1).find(R"("janus":"hangup")"), std::string::npos);
  EXPECT_NE(rig.core.request_text(before + 2).find(R"("janus":"detach")"), std::string::npos);
  EXPECT_EQ(rig.edge->holds().held(), 0u);
}

TEST(EdgeWsTest, AClientThatLeavesWithRequestsHeldEndsItsSessionsAfterThem) {
  runtime::PcWatch watch;
  watch.start_feeding();
  Rig rig({}, &watch);
  auto client = std::make_unique<WsClient>(rig.ws->port());
  ASSERT_TRUE(client->open());
  const NegotiatingHandle h = negotiate(*client);
  janus_transport_session* ts = rig.core.last_creator();
  const std::size_t before = rig.core.requests();
  client->send_text(R"({"janus":"detach","transaction":"d",)" + h.ids() + "}");
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.edge->holds().held() == 1; }));
  client.reset();  // gone, its detach still held
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.ws->connections() == 0; }));
  EXPECT_FALSE(rig.core.gone(ts));  // its sessions wait for the detach
  watch.settled({h.session, h.handle});
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.core.gone(ts); }));
  EXPECT_EQ(rig.core.requests(), before + 1);
  EXPECT_NE(rig.core.request_text(before).find(R"("janus":"detach")"), std::string::npos);
}

// --- HTTP -----------------------------------------------------------------------------------

testing::HttpReply http(std::uint16_t port, const std::string& method, const std::string& path,
                        const std::string& body = "", int timeout_ms = 5000) {
  std::string error;
  auto reply = testing::http_request(port, method, path, {"Content-Type: application/json"}, error,
                                     timeout_ms, body);
  EXPECT_TRUE(reply.has_value()) << method << " " << path << ": " << error;
  return reply.value_or(testing::HttpReply{});
}

std::uint64_t create_http_session(Rig& rig) {
  const testing::HttpReply created =
      http(rig.http->port(), "POST", "/janus", R"({"janus":"create","transaction":"c"})");
  EXPECT_EQ(created.status, 200);
  JsonPtr reply = json_of(created.body);
  return static_cast<std::uint64_t>(integer_member(member(reply.get(), "data"), "id").value_or(0));
}

TEST(EdgeHttpTest, ALongPollGetsTheSessionsEventsWithCors) {
  Rig rig;
  const std::uint64_t session = create_http_session(rig);
  ASSERT_NE(session, 0u);
  auto poll = std::async(std::launch::async, [&] {
    return http(rig.http->port(), "GET", "/janus/" + std::to_string(session) + "?maxev=5");
  });
  // The poll's keepalive reached the core: it is waiting.
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.core.requests() == 2; }));
  FakeCore::send_event(rig.core.last_creator(),
                       json_pack("{s:s,s:I,s:s}", "janus", "event", "session_id",
                                 static_cast<json_int_t>(session), "note", "hello"));
  const testing::HttpReply reply = poll.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("access-control-allow-origin"), "*");
  JsonPtr events = json_of(reply.body);
  ASSERT_TRUE(json_is_array(events.get())) << reply.body;
  ASSERT_EQ(json_array_size(events.get()), 1u);
  EXPECT_EQ(string_member(json_array_get(events.get(), 0), "note"), "hello");
  EXPECT_NE(rig.core.request_text(1).find("keepalive"), std::string::npos);
}

TEST(EdgeHttpTest, ALongPollWithNothingToSayIsAKeepaliveAfterItsTimeout) {
  Rig rig([](EdgeConfig& c) { c.longpoll_timeout_s = 1; });
  const std::uint64_t session = create_http_session(rig);
  const auto start = std::chrono::steady_clock::now();
  const testing::HttpReply reply =
      http(rig.http->port(), "GET", "/janus/" + std::to_string(session));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(reply.body, R"({"janus":"keepalive"})");
}

// As Janus's HTTP transport: the poll waiting when its session ends gets its keepalive at its
// own timeout, not at once. janus.js polls again on every answer while its destroy is in flight,
// and that poll's 404 is a console error ("API call failed") in every HTTP client's page.
TEST(EdgeHttpTest, ALongPollWaitingWhenItsSessionEndsIsAnsweredAtItsTimeout) {
  Rig rig([](EdgeConfig& c) { c.longpoll_timeout_s = 2; });
  const std::uint64_t session = create_http_session(rig);
  ASSERT_NE(session, 0u);
  janus_transport_session* creator = rig.core.last_creator();
  const auto start = std::chrono::steady_clock::now();
  auto poll = std::async(std::launch::async, [&] {
    return http(rig.http->port(), "GET", "/janus/" + std::to_string(session));
  });
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.core.requests() == 2; }));
  static_cast<EndpointRef*>(creator->transport_p)->endpoint->session_over(session);
  // A poll after the end is refused: the session is gone for the edge...
  EXPECT_EQ(http(rig.http->port(), "GET", "/janus/" + std::to_string(session)).status, 404);
  // ...and the waiting one is still waiting.
  EXPECT_EQ(poll.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  const testing::HttpReply reply = poll.get();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1900));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"({"janus":"keepalive"})");
}

TEST(EdgeHttpTest, ABodyOverTheCapIs413AndNeverReachesTheCore) {
  Rig rig([](EdgeConfig& c) { c.max_message_bytes = 1024; });
  const std::string body = R"({"janus":"ping","pad":")" + std::string(5000, 'x') + "\"}";
  const testing::HttpReply reply = http(rig.http->port(), "POST", "/janus", body);
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(error_code(reply.body), kErrorMessageTooBig);
  EXPECT_EQ(rig.core.requests(), 0u);
  EXPECT_EQ(rig.metrics.refusals(Refusal::kMessageTooBig), 1u);
}

TEST(EdgeHttpTest, ASessionNobodyPollsIsDroppedAndTheCoreToldItsClientIsGone) {
  Rig rig([](EdgeConfig& c) { c.send_timeout_ms = 200; });
  const std::uint64_t session = create_http_session(rig);
  janus_transport_session* creator = rig.core.last_creator();
  FakeCore::send_event(creator, json_pack("{s:s,s:I}", "janus", "event", "session_id",
                                          static_cast<json_int_t>(session)));
  EXPECT_TRUE(rig.core.wait_until([&] { return rig.core.gone(creator); }));
  EXPECT_EQ(rig.metrics.disconnections(Transport::kHttp, Disconnect::kSlowConsumer), 1u);
  EXPECT_EQ(rig.metrics.queued_bytes().load(), 0);
  const testing::HttpReply poll =
      http(rig.http->port(), "GET", "/janus/" + std::to_string(session));
  EXPECT_EQ(poll.status, 404);
  EXPECT_EQ(rig.http->sessions(), 0u);
}

TEST(EdgeHttpTest, IdsComeFromThePathAndMustAgreeWithThePayload) {
  Rig rig;
  const testing::HttpReply ok =
      http(rig.http->port(), "POST", "/janus/12/34", R"({"janus":"hangup","transaction":"h"})");
  EXPECT_EQ(ok.status, 200);
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.core.requests() == 1; }));
  JsonPtr forwarded = json_of(rig.core.request_text(0));
  EXPECT_EQ(integer_member(forwarded.get(), "session_id"), 12);
  EXPECT_EQ(integer_member(forwarded.get(), "handle_id"), 34);
  const testing::HttpReply conflict =
      http(rig.http->port(), "POST", "/janus/12/34", R"({"janus":"hangup","handle_id":35})");
  EXPECT_EQ(error_code(conflict.body), kErrorInvalidPath);
  EXPECT_EQ(rig.core.requests(), 1u);
  EXPECT_EQ(http(rig.http->port(), "GET", "/elsewhere").status, 404);
  EXPECT_EQ(http(rig.http->port(), "POST", "/janus/1/2/3", "{}").status, 404);
}

TEST(EdgeHttpTest, AHangupWhileIceNegotiatesIsAnsweredOnceTheFirstPairCame) {
  runtime::PcWatch watch;
  watch.start_feeding();
  Rig rig({}, &watch);
  const std::uint64_t session = create_http_session(rig);
  const std::string s = "/janus/" + std::to_string(session);
  const testing::HttpReply attached =
      http(rig.http->port(), "POST", s,
           R"({"janus":"attach","plugin":"janus.plugin.echotest","transaction":"a"})");
  JsonPtr reply = json_of(attached.body);
  const auto handle =
      static_cast<std::uint64_t>(integer_member(member(reply.get(), "data"), "id").value_or(0));
  const std::string path = s + "/" + std::to_string(handle);
  http(rig.http->port(), "POST", path,
       R"({"janus":"message","transaction":"m","body":{},"jsep":{"type":"offer","sdp":"v=0"}})");
  const std::size_t before = rig.core.requests();
  auto hangup = std::async(std::launch::async, [&] {
    return http(rig.http->port(), "POST", path, R"({"janus":"hangup","transaction":"h"})");
  });
  ASSERT_TRUE(rig.core.wait_until([&] { return rig.edge->holds().held() == 1; }));
  EXPECT_EQ(rig.core.requests(), before);
  watch.settled({session, handle});
  const testing::HttpReply answered = hangup.get();
  EXPECT_EQ(answered.status, 200);
  EXPECT_NE(answered.body.find(R"("transaction":"h")"), std::string::npos) << answered.body;
  EXPECT_EQ(rig.core.requests(), before + 1);
  EXPECT_EQ(rig.metrics.held_requests(Verb::kHangup), 1u);
}

TEST(EdgeHttpTest, InfoAndPreflightAreServed) {
  Rig rig;
  const testing::HttpReply info = http(rig.http->port(), "GET", "/janus/info");
  EXPECT_EQ(info.status, 200);
  EXPECT_NE(rig.core.request_text(0).find("\"info\""), std::string::npos);
  std::string error;
  auto preflight =
      testing::http_request(rig.http->port(), "OPTIONS", "/janus",
                            {"Origin: http://example.com", "Access-Control-Request-Method: POST",
                             "Access-Control-Request-Headers: content-type"},
                            error);
  ASSERT_TRUE(preflight) << error;
  EXPECT_EQ(preflight->status, 200);
  EXPECT_EQ(preflight->header("access-control-allow-methods"), "POST");
  EXPECT_EQ(preflight->header("access-control-allow-headers"), "content-type");
  EXPECT_EQ(rig.core.requests(), 1u);
}

}  // namespace
}  // namespace jmedia::edge
