// The messages nodes send each other through Redis pub/sub, one channel per node
// (node_inbox_channel, directory_keys.h): the control plane of the relays between nodes
// (README, "Scale-out"). Small JSON objects with a version and a type, signed with the
// cluster's shared secret (Redis holds no secret, and whoever can PUBLISH there must not be
// able to point an origin's relay at an address of its choosing).
//
// On the wire: "<64 hex digits of HMAC-SHA256(secret, json)> <json>", at most
// kMaxMessageBytes in all, json one object:
//   {"v":1,"type":T,"from_node":N, ...}
//   relay_request    device_id, relay_id, address  (where the asking node receives the relay)
//   relay_accept     device_id, relay_id, address  (the origin's relay port, for RTCP back),
//                    media (optional object: the publisher's media the relay carries)
//   relay_refuse     device_id, relay_id, code, reason
//   relay_stop       device_id, relay_id           (either side)
//   publisher_left   device_id
//   publisher_joined device_id, media (optional object, the publisher's media summary)
// Anything else (another version, an unknown type, a missing or ill-formed field, a bad
// signature, a message over the size) is refused by decode() and counted by the channel.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace jmedia::cluster {

inline constexpr int kMessageVersion = 1;
inline constexpr std::size_t kMaxMessageBytes = 4096;
inline constexpr std::size_t kMaxReasonBytes = 256;
inline constexpr std::size_t kMaxFieldBytes = 128;  // device_id, relay_id, address

enum class MessageType : int {
  kRelayRequest,
  kRelayAccept,
  kRelayRefuse,
  kRelayStop,
  kPublisherLeft,
  kPublisherJoined,
};
inline constexpr int kMessageTypeCount = 6;
// The names on the wire and in metric labels, by MessageType.
inline constexpr std::array<const char*, kMessageTypeCount> kMessageTypeNames = {
    "relay_request", "relay_accept",   "relay_refuse",
    "relay_stop",    "publisher_left", "publisher_joined"};
inline const char* message_type_name(MessageType type) {
  return kMessageTypeNames[static_cast<std::size_t>(type)];
}

struct NodeMessage {
  MessageType type = MessageType::kRelayRequest;
  std::string from_node;  // set by the channel when sending
  std::string device_id;
  std::string relay_id;  // relay_*
  std::string address;   // relay_request, relay_accept: "host:port" ("[v6]:port")
  int code = 0;          // relay_refuse: an error code of docs/API.md
  std::string reason;    // relay_refuse
  std::string media;     // relay_accept, publisher_joined: a JSON object as text, or empty
};

// The signed wire text; empty when the message breaks the schema (a missing field, a field
// too long, an address that is not host:port) or would be over kMaxMessageBytes.
std::string encode_message(const NodeMessage& message, std::string_view secret);

// "<signature> <json>" for any text: what encode_message() sends, for tests and fuzzers that
// need a signed message outside the schema.
std::string sign_json(std::string_view json, std::string_view secret);

enum class DecodeResult { kOk, kOversized, kMalformed, kBadSignature };
// why: for the log, never the secret, at most a few dozen bytes of the input.
DecodeResult decode_message(std::string_view wire, std::string_view secret, NodeMessage& out,
                            std::string& why);

// relay_id, device_id: 1-128 of A-Z a-z 0-9 . _ : - (the plugin's device_id rule).
bool valid_message_id(std::string_view id);

}  // namespace jmedia::cluster
