// The nodes' inboxes (cluster/node_channel.h) against a real redis-server on a free loopback
// port (redis_server.h): two nodes exchange every message type; what is not a valid, signed
// message is counted and dropped; the inbox comes back after Redis restarts; an unanswered
// relay_request is resent, then reported.
#include "../../cluster/node_channel.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>

#include "../../cluster/directory.h"
#include "../../cluster/directory_keys.h"
#include "../unit/eventually.h"
#include "redis_server.h"

namespace jmedia::cluster {
namespace {

using jmedia::testing::eventually;
using std::chrono::milliseconds;
using testing::RedisServer;

const std::string kChannelSecret = "node-channel-test-secret-0123456789ab";

class NoDevices final : public DirectoryListener {
 public:
  NodeLoad load() override { return {}; }
  std::vector<PublishedDevice> published() override { return {}; }
  bool publishes(const std::string&) override { return false; }
  void device_lost(const std::string&, const std::string&) override {}
};

// What a node's channel delivered, in order; on_message may answer (as the plugin will).
class Inbox final : public NodeChannelListener {
 public:
  void received(const NodeMessage& message) override {
    std::function<void(const NodeMessage&)> answer;
    {
      std::lock_guard lock(mutex_);
      messages_.push_back(message);
      answer = on_message_;
    }
    if (answer) answer(message);
  }
  void relay_unanswered(const NodeMessage& request) override {
    std::lock_guard lock(mutex_);
    unanswered_.push_back(request);
  }
  std::vector<NodeMessage> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::vector<NodeMessage> unanswered() {
    std::lock_guard lock(mutex_);
    return unanswered_;
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  void on_message(std::function<void(const NodeMessage&)> answer) {
    std::lock_guard lock(mutex_);
    on_message_ = std::move(answer);
  }

 private:
  std::mutex mutex_;
  std::vector<NodeMessage> messages_;
  std::vector<NodeMessage> unanswered_;
  std::function<void(const NodeMessage&)> on_message_;
};

// One node: its directory and its inbox.
struct Node {
  Node(const RedisServer& redis, const std::string& id,
       milliseconds relay_retry = milliseconds(200), int attempts = 3) {
    DirectoryOptions options;
    options.redis = Endpoint{"127.0.0.1", redis.port()};
    options.node_id = id;
    options.heartbeat = milliseconds(100);
    options.node_ttl = milliseconds(500);
    options.backoff_min = milliseconds(50);
    options.backoff_max = milliseconds(200);
    options.secret = kChannelSecret;
    options.relay_retry = relay_retry;
    options.relay_attempts = attempts;
    directory = std::make_unique<Directory>(options, owner, &inbox);
  }
  NodeChannel& channel() { return *directory->channel(); }
  bool ready() {
    return eventually([&] { return directory->redis_up() && channel().subscribed(); });
  }
  NoDevices owner;
  Inbox inbox;
  std::unique_ptr<Directory> directory;
};

NodeMessage make(MessageType type, const std::string& device, const std::string& relay_id = "",
                 const std::string& address = "") {
  NodeMessage m;
  m.type = type;
  m.device_id = device;
  m.relay_id = relay_id;
  m.address = address;
  return m;
}

TEST(NodeChannelTest, TwoNodesExchangeEveryMessageType) {
  RedisServer redis;
  Node a(redis, "node-a");
  Node b(redis, "node-b");
  ASSERT_TRUE(a.ready() && b.ready());
  EXPECT_EQ(a.channel().inbox(), "jmedia:node:node-a:inbox");
  // The origin (A) accepts cam-1 and refuses anything else, as the plugin will.
  a.inbox.on_message([&](const NodeMessage& m) {
    if (m.type != MessageType::kRelayRequest) return;
    NodeMessage answer =
        make(m.device_id == "cam-1" ? MessageType::kRelayAccept : MessageType::kRelayRefuse,
             m.device_id, m.relay_id, "127.0.0.1:21001");
    if (answer.type == MessageType::kRelayRefuse) {
      answer.address.clear();
      answer.code = 1015;
      answer.reason = "not published on node-a";
    }
    a.channel().send(m.from_node, answer);
  });
  const std::string relay = b.channel().request_relay("node-a", "cam-1", "127.0.0.1:22002");
  ASSERT_FALSE(relay.empty());
  EXPECT_EQ(relay.rfind("node-b-", 0), 0u) << relay;
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 1; }));
  const auto request = a.inbox.messages().at(0);
  EXPECT_EQ(request.type, MessageType::kRelayRequest);
  EXPECT_EQ(request.from_node, "node-b");
  EXPECT_EQ(request.device_id, "cam-1");
  EXPECT_EQ(request.relay_id, relay);
  EXPECT_EQ(request.address, "127.0.0.1:22002");
  const auto accept = b.inbox.messages().at(0);
  EXPECT_EQ(accept.type, MessageType::kRelayAccept);
  EXPECT_EQ(accept.from_node, "node-a");
  EXPECT_EQ(accept.relay_id, relay);
  EXPECT_EQ(accept.address, "127.0.0.1:21001");

  const std::string refused = b.channel().request_relay("node-a", "cam-9", "127.0.0.1:22002");
  ASSERT_NE(refused, relay);
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 2; }));
  const auto refuse = b.inbox.messages().at(1);
  EXPECT_EQ(refuse.type, MessageType::kRelayRefuse);
  EXPECT_EQ(refuse.relay_id, refused);
  EXPECT_EQ(refuse.code, 1015);
  EXPECT_EQ(refuse.reason, "not published on node-a");

  // Either side stops a relay; the origin tells of its publisher.
  ASSERT_TRUE(b.channel().send("node-a", make(MessageType::kRelayStop, "cam-1", relay)));
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kRelayStop, "cam-1", relay)));
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kPublisherLeft, "cam-1")));
  NodeMessage joined = make(MessageType::kPublisherJoined, "cam-1");
  joined.media = R"({"video":true})";
  ASSERT_TRUE(a.channel().send("node-b", joined));
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 5 && a.inbox.count() == 3; }));
  const auto at_b = b.inbox.messages();
  EXPECT_EQ(at_b[2].type, MessageType::kRelayStop);
  EXPECT_EQ(at_b[2].relay_id, relay);
  EXPECT_EQ(at_b[3].type, MessageType::kPublisherLeft);
  EXPECT_EQ(at_b[3].from_node, "node-a");
  EXPECT_EQ(at_b[4].type, MessageType::kPublisherJoined);
  EXPECT_EQ(at_b[4].media, R"({"video":true})");
  EXPECT_EQ(a.inbox.messages()[2].type, MessageType::kRelayStop);

  for (auto type : {MessageType::kRelayAccept, MessageType::kRelayRefuse,
                    MessageType::kPublisherLeft, MessageType::kPublisherJoined}) {
    EXPECT_EQ(a.channel().sent(type), 1u) << message_type_name(type);
    EXPECT_EQ(b.channel().received(type), 1u) << message_type_name(type);
  }
  EXPECT_EQ(b.channel().sent(MessageType::kRelayRequest), 2u);
  EXPECT_EQ(a.channel().received(MessageType::kRelayRequest), 2u);
  EXPECT_EQ(b.channel().retries(), 0u) << "answered at once: no resend";
  EXPECT_EQ(b.channel().dropped(NodeChannel::Drop::kUnmatched), 0u);
}

TEST(NodeChannelTest, WhatIsNotAValidSignedMessageIsCountedAndDropped) {
  RedisServer redis;
  Node a(redis, "node-a");
  Node b(redis, "node-b");
  ASSERT_TRUE(a.ready() && b.ready());
  const std::string inbox = node_inbox_channel("node-b");
  // Straight into B's inbox, as anyone who can reach Redis could.
  EXPECT_EQ(redis.query({"PUBLISH", inbox, "garbage"}), "1");
  EXPECT_EQ(redis.query({"PUBLISH", inbox, std::string(kMaxMessageBytes + 1, 'x')}), "1");
  NodeMessage left = make(MessageType::kPublisherLeft, "cam-1");
  left.from_node = "node-a";
  EXPECT_EQ(
      redis.query({"PUBLISH", inbox, encode_message(left, "another-secret-not-the-clusters-0123")}),
      "1");
  EXPECT_EQ(redis.query({"PUBLISH", inbox,
                         sign_json(R"({"v":1,"type":"publisher_left","from_node":"node-a"})",
                                   kChannelSecret)}),
            "1");
  // An answer to a request B never made.
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kRelayAccept, "cam-1",
                                              "node-b-feedfacefeedface-1", "127.0.0.1:21001")));
  // Then a valid one: once it is in, everything before it was handled.
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kPublisherLeft, "cam-2")));
  ASSERT_TRUE(eventually([&] { return b.inbox.count() >= 1; }));
  const auto got = b.inbox.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].device_id, "cam-2");
  auto& channel = b.channel();
  EXPECT_EQ(channel.dropped(NodeChannel::Drop::kMalformed), 2u);
  EXPECT_EQ(channel.dropped(NodeChannel::Drop::kOversized), 1u);
  EXPECT_EQ(channel.dropped(NodeChannel::Drop::kBadSignature), 1u);
  EXPECT_EQ(channel.dropped(NodeChannel::Drop::kUnmatched), 1u);
  EXPECT_EQ(channel.received(MessageType::kPublisherLeft), 1u);
  EXPECT_EQ(channel.received(MessageType::kRelayAccept), 0u);
  EXPECT_TRUE(channel.subscribed()) << "bad input does not break the inbox";
  // What breaks the schema is not sent at all.
  EXPECT_FALSE(a.channel().send("node-b", make(MessageType::kRelayRequest, "cam-1", "r1", "x")));
  EXPECT_FALSE(a.channel().send("no:such", make(MessageType::kPublisherLeft, "cam-1")));
  EXPECT_EQ(a.channel().dropped(NodeChannel::Drop::kUnsent), 2u);
}

TEST(NodeChannelTest, TheInboxComesBackAfterRedisRestarts) {
  RedisServer redis;
  Node a(redis, "node-a");
  Node b(redis, "node-b");
  ASSERT_TRUE(a.ready() && b.ready());
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kPublisherLeft, "cam-1")));
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 1; }));
  const auto connects = b.channel().connects();
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !b.channel().subscribed() && !a.directory->redis_up(); }));
  // Redis down: nothing can go, and the sender says so at once.
  EXPECT_FALSE(a.channel().send("node-b", make(MessageType::kPublisherLeft, "cam-2")));
  EXPECT_EQ(a.channel().request_relay("node-b", "cam-2", "127.0.0.1:22002"), "");
  EXPECT_GE(a.channel().dropped(NodeChannel::Drop::kUnsent), 2u);
  redis.start();
  ASSERT_TRUE(a.ready() && b.ready());
  EXPECT_GT(b.channel().connects(), connects);
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kPublisherJoined, "cam-3")));
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 2; }));
  EXPECT_EQ(b.inbox.messages()[1].device_id, "cam-3");
  EXPECT_GE(b.channel().errors(), 1u);
}

TEST(NodeChannelTest, AnUnansweredRelayRequestIsResentThenReported) {
  RedisServer redis;
  Node b(redis, "node-b", milliseconds(100), 3);
  ASSERT_TRUE(b.ready());
  // No node-x listens: three sends 100 ms apart, then the listener is told, once.
  const std::string relay = b.channel().request_relay("node-x", "cam-1", "127.0.0.1:22002");
  ASSERT_FALSE(relay.empty());
  ASSERT_TRUE(eventually([&] { return !b.inbox.unanswered().empty(); }, milliseconds(3000)));
  const auto unanswered = b.inbox.unanswered();
  ASSERT_EQ(unanswered.size(), 1u);
  EXPECT_EQ(unanswered[0].relay_id, relay);
  EXPECT_EQ(unanswered[0].device_id, "cam-1");
  EXPECT_EQ(b.channel().sent(MessageType::kRelayRequest), 3u);
  EXPECT_EQ(b.channel().retries(), 2u);
  EXPECT_EQ(b.channel().unanswered(), 1u);
}

TEST(NodeChannelTest, ALostRequestIsAnsweredOnItsResendAndTheAskerHearsOnce) {
  RedisServer redis;
  Node a(redis, "node-a");
  Node b(redis, "node-b", milliseconds(150), 5);
  ASSERT_TRUE(a.ready() && b.ready());
  // The origin misses the first copy (as if it were lost), then answers every copy, twice.
  std::atomic<int> copies{0};
  a.inbox.on_message([&](const NodeMessage& m) {
    if (m.type != MessageType::kRelayRequest || ++copies < 2) return;
    const auto accept = make(MessageType::kRelayAccept, m.device_id, m.relay_id, "127.0.0.1:21001");
    a.channel().send(m.from_node, accept);
    a.channel().send(m.from_node, accept);
  });
  const std::string relay = b.channel().request_relay("node-a", "cam-1", "127.0.0.1:22002");
  ASSERT_FALSE(relay.empty());
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 1; }));
  // The duplicate answer is dropped: a later message shows it was handled.
  ASSERT_TRUE(eventually([&] { return b.channel().dropped(NodeChannel::Drop::kUnmatched) >= 1; },
                         milliseconds(2000)));
  ASSERT_TRUE(a.channel().send("node-b", make(MessageType::kPublisherLeft, "cam-1")));
  ASSERT_TRUE(eventually([&] { return b.inbox.count() == 2; }));
  const auto got = b.inbox.messages();
  EXPECT_EQ(got[0].type, MessageType::kRelayAccept);
  EXPECT_EQ(got[0].relay_id, relay);
  EXPECT_EQ(got[1].type, MessageType::kPublisherLeft);
  EXPECT_GE(b.channel().retries(), 1u);
  EXPECT_EQ(b.channel().received(MessageType::kRelayAccept), 1u);
  EXPECT_TRUE(b.inbox.unanswered().empty());
}

}  // namespace
}  // namespace jmedia::cluster
