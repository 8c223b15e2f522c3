// The node messages' schema (cluster/node_messages.h): what encode sends decodes to the same
// message; anything else is refused with the right result, never a crash.
#include "../../cluster/node_messages.h"

#include <gtest/gtest.h>

namespace jmedia::cluster {
namespace {

const std::string kMessagesSecret = "node-messages-test-secret-0123456789";

NodeMessage message(MessageType type) {
  NodeMessage m;
  m.type = type;
  m.from_node = "node-a";
  m.device_id = "cam:1";
  if (type != MessageType::kPublisherLeft && type != MessageType::kPublisherJoined) {
    m.relay_id = "node-a-0123456789abcdef-7";
  }
  if (type == MessageType::kRelayRequest || type == MessageType::kRelayAccept) {
    m.address = "10.0.0.5:21000";
  }
  if (type == MessageType::kRelayRefuse) {
    m.code = 1015;
    m.reason = "device 'cam:1' is not published here";
  }
  if (type == MessageType::kPublisherJoined || type == MessageType::kRelayAccept) {
    m.media = R"({"audio":true,"video":"h264"})";
  }
  return m;
}

DecodeResult decode(const std::string& wire, NodeMessage* out = nullptr) {
  NodeMessage decoded;
  std::string why;
  const DecodeResult result = decode_message(wire, kMessagesSecret, decoded, why);
  if (out != nullptr) *out = decoded;
  return result;
}

TEST(NodeMessagesTest, EveryTypeRoundTrips) {
  for (int t = 0; t < kMessageTypeCount; ++t) {
    const NodeMessage sent = message(static_cast<MessageType>(t));
    const std::string wire = encode_message(sent, kMessagesSecret);
    ASSERT_FALSE(wire.empty()) << kMessageTypeNames[t];
    EXPECT_NE(wire.find(std::string("\"type\":\"") + kMessageTypeNames[t] + "\""),
              std::string::npos)
        << wire;
    NodeMessage got;
    ASSERT_EQ(decode(wire, &got), DecodeResult::kOk) << wire;
    EXPECT_EQ(got.type, sent.type);
    EXPECT_EQ(got.from_node, sent.from_node);
    EXPECT_EQ(got.device_id, sent.device_id);
    EXPECT_EQ(got.relay_id, sent.relay_id);
    EXPECT_EQ(got.address, sent.address);
    EXPECT_EQ(got.code, sent.code);
    EXPECT_EQ(got.reason, sent.reason);
    EXPECT_EQ(got.media, sent.media);
  }
  // IPv6 addresses as the config takes them.
  NodeMessage v6 = message(MessageType::kRelayAccept);
  v6.address = "[fd00::5]:21000";
  NodeMessage got;
  ASSERT_EQ(decode(encode_message(v6, kMessagesSecret), &got), DecodeResult::kOk);
  EXPECT_EQ(got.address, "[fd00::5]:21000");
}

TEST(NodeMessagesTest, EncodeRefusesWhatBreaksTheSchema) {
  auto broken = [](auto change) {
    NodeMessage m = message(MessageType::kRelayRequest);
    change(m);
    return encode_message(m, kMessagesSecret);
  };
  EXPECT_EQ(broken([](NodeMessage& m) { m.device_id = ""; }), "");
  EXPECT_EQ(broken([](NodeMessage& m) { m.device_id = std::string(129, 'd'); }), "");
  EXPECT_EQ(broken([](NodeMessage& m) { m.from_node = "a:b"; }), "");
  EXPECT_EQ(broken([](NodeMessage& m) { m.relay_id = ""; }), "");
  EXPECT_EQ(broken([](NodeMessage& m) { m.address = "10.0.0.5"; }), "");
  EXPECT_EQ(broken([](NodeMessage& m) { m.address = "/run/relay.sock"; }), "");
  NodeMessage refuse = message(MessageType::kRelayRefuse);
  refuse.code = 7;
  EXPECT_EQ(encode_message(refuse, kMessagesSecret), "");
  refuse.code = 1015;
  refuse.reason = std::string(kMaxReasonBytes + 1, 'r');
  EXPECT_EQ(encode_message(refuse, kMessagesSecret), "");
  refuse.reason = "\xff\xfe not UTF-8";
  EXPECT_EQ(encode_message(refuse, kMessagesSecret), "");
  NodeMessage joined = message(MessageType::kPublisherJoined);
  joined.media = "[1,2]";
  EXPECT_EQ(encode_message(joined, kMessagesSecret), "");
  joined.media = R"({"summary":")" + std::string(kMaxMessageBytes, 'x') + R"("})";
  EXPECT_EQ(encode_message(joined, kMessagesSecret), "") << "over kMaxMessageBytes";
}

TEST(NodeMessagesTest, OversizedIsRefusedBeforeAnything) {
  const std::string json = R"({"v":1,"type":"publisher_left","from_node":"node-a","device_id":")" +
                           std::string(kMaxMessageBytes, 'd') + "\"}";
  EXPECT_EQ(decode(sign_json(json, kMessagesSecret)), DecodeResult::kOversized);
  EXPECT_EQ(decode(std::string(kMaxMessageBytes + 1, ' ')), DecodeResult::kOversized);
}

TEST(NodeMessagesTest, ABadSignatureIsRefused) {
  const std::string wire = encode_message(message(MessageType::kRelayRequest), kMessagesSecret);
  NodeMessage got;
  std::string why;
  EXPECT_EQ(decode_message(wire, "another-secret-0123456789abcdef012", got, why),
            DecodeResult::kBadSignature);
  EXPECT_EQ(why.find(kMessagesSecret), std::string::npos);
  std::string tampered = wire;
  tampered.replace(tampered.find("10.0.0.5"), 8, "10.6.6.6");  // the address, redirected
  EXPECT_EQ(decode(tampered), DecodeResult::kBadSignature);
  std::string bad_mac = wire;
  bad_mac[0] = bad_mac[0] == '0' ? '1' : '0';
  EXPECT_EQ(decode(bad_mac), DecodeResult::kBadSignature);
}

TEST(NodeMessagesTest, SignedButMalformedIsRefused) {
  const char* cases[] = {
      "",
      "[]",
      "not json",
      R"({"v":2,"type":"publisher_left","from_node":"node-a","device_id":"cam"})",
      R"({"type":"publisher_left","from_node":"node-a","device_id":"cam"})",
      R"({"v":"1","type":"publisher_left","from_node":"node-a","device_id":"cam"})",
      R"({"v":1,"type":"relay_teleport","from_node":"node-a","device_id":"cam"})",
      R"({"v":1,"type":7,"from_node":"node-a","device_id":"cam"})",
      R"({"v":1,"type":"publisher_left","device_id":"cam"})",
      R"({"v":1,"type":"publisher_left","from_node":"node a","device_id":"cam"})",
      R"({"v":1,"type":"publisher_left","from_node":"node-a"})",
      R"({"v":1,"type":"publisher_left","from_node":"node-a","device_id":"cam/1"})",
      R"({"v":1,"type":"publisher_left","from_node":"node-a","device_id":"cam","device_id":"x"})",
      R"({"v":1,"type":"relay_request","from_node":"node-a","device_id":"cam","relay_id":"r1"})",
      R"({"v":1,"type":"relay_request","from_node":"node-a","device_id":"cam","relay_id":"r1",)"
      R"("address":"10.0.0.5:0"})",
      R"({"v":1,"type":"relay_accept","from_node":"node-a","device_id":"cam","address":"h:1"})",
      R"({"v":1,"type":"relay_refuse","from_node":"node-a","device_id":"cam","relay_id":"r1"})",
      R"({"v":1,"type":"relay_refuse","from_node":"node-a","device_id":"cam","relay_id":"r1",)"
      R"("code":99999999999})",
      R"({"v":1,"type":"relay_stop","from_node":"node-a","device_id":"cam","relay_id":""})",
      R"({"v":1,"type":"publisher_joined","from_node":"node-a","device_id":"cam","media":1})",
  };
  for (const char* json : cases) {
    EXPECT_EQ(decode(sign_json(json, kMessagesSecret)), DecodeResult::kMalformed) << json;
  }
  // Not "<signature> <json>" at all.
  EXPECT_EQ(decode("hello"), DecodeResult::kMalformed);
  EXPECT_EQ(decode(std::string(64, 'a') + "{}"), DecodeResult::kMalformed);
  // Unknown members are ignored (a newer node may add some within version 1).
  EXPECT_EQ(decode(sign_json(R"({"v":1,"type":"publisher_left","from_node":"node-a",)"
                             R"("device_id":"cam","extra":[1]})",
                             kMessagesSecret)),
            DecodeResult::kOk);
}

}  // namespace
}  // namespace jmedia::cluster
