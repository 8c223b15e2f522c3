#include "node_messages.h"

#include <algorithm>

#include "../common/crypto.h"
#include "../common/json.h"
#include "cluster_config.h"

namespace jmedia::cluster {
namespace {

constexpr std::size_t kMacHexBytes = 64;  // HMAC-SHA256, hex

std::string mac_hex(std::string_view secret, std::string_view text) {
  return to_hex(hmac_sha256(secret, {text}));
}

bool valid_address(std::string_view text) {
  Endpoint endpoint;
  return text.size() <= kMaxFieldBytes && parse_endpoint(std::string(text), endpoint) &&
         !endpoint.unix_socket();
}

bool has_relay_id(MessageType type) {
  return type == MessageType::kRelayRequest || type == MessageType::kRelayAccept ||
         type == MessageType::kRelayRefuse || type == MessageType::kRelayStop;
}
bool has_address(MessageType type) {
  return type == MessageType::kRelayRequest || type == MessageType::kRelayAccept;
}
bool has_media(MessageType type) {
  return type == MessageType::kRelayAccept || type == MessageType::kPublisherJoined;
}

// The schema of one message, for both sides: "" when it holds, else what is wrong.
std::string schema_error(const NodeMessage& message) {
  if (!valid_node_id(message.from_node)) return "from_node is not a node id";
  if (!valid_message_id(message.device_id)) return "device_id is not a device id";
  if (has_relay_id(message.type) && !valid_message_id(message.relay_id)) {
    return "relay_id is not an id";
  }
  if (has_address(message.type) && !valid_address(message.address)) {
    return "address is not host:port";
  }
  if (message.type == MessageType::kRelayRefuse) {
    if (message.code < 1000 || message.code > 1999) return "code is not 1000-1999";
    if (message.reason.size() > kMaxReasonBytes) return "reason is too long";
  }
  return "";
}

}  // namespace

bool valid_message_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxFieldBytes &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
         });
}

std::string encode_message(const NodeMessage& message, std::string_view secret) {
  if (!schema_error(message).empty()) return "";
  JsonPtr object = adopt(json_object());
  set(object.get(), "v", kMessageVersion);
  set(object.get(), "type", message_type_name(message.type));
  set(object.get(), "from_node", message.from_node);
  set(object.get(), "device_id", message.device_id);
  if (has_relay_id(message.type)) set(object.get(), "relay_id", message.relay_id);
  if (has_address(message.type)) set(object.get(), "address", message.address);
  if (message.type == MessageType::kRelayRefuse) {
    set(object.get(), "code", message.code);
    set(object.get(), "reason", message.reason);  // checked: invalid UTF-8 is dropped
    if (member(object.get(), "reason") == nullptr) return "";
  }
  if (has_media(message.type) && !message.media.empty()) {
    JsonPtr media = adopt(json_loadb(message.media.data(), message.media.size(), 0, nullptr));
    if (!json_is_object(media.get())) return "";
    set(object.get(), "media", std::move(media));
  }
  std::string wire = sign_json(dump(object.get()), secret);
  return wire.size() <= kMaxMessageBytes ? wire : "";
}

std::string sign_json(std::string_view json, std::string_view secret) {
  std::string wire = mac_hex(secret, json);
  if (wire.size() != kMacHexBytes) return "";
  wire.push_back(' ');
  wire += json;
  return wire;
}

DecodeResult decode_message(std::string_view wire, std::string_view secret, NodeMessage& out,
                            std::string& why) {
  if (wire.size() > kMaxMessageBytes) {
    why = std::to_string(wire.size()) + " bytes, over " + std::to_string(kMaxMessageBytes);
    return DecodeResult::kOversized;
  }
  if (wire.size() < kMacHexBytes + 3 || wire[kMacHexBytes] != ' ') {
    why = "not '<signature> <json>'";
    return DecodeResult::kMalformed;
  }
  const std::string_view json = wire.substr(kMacHexBytes + 1);
  const std::string expected = mac_hex(secret, json);
  if (expected.size() != kMacHexBytes ||
      !constant_time_equals(expected, wire.substr(0, kMacHexBytes))) {
    why = "the signature does not match (another cluster.secret?)";
    return DecodeResult::kBadSignature;
  }
  json_error_t error;
  JsonPtr object = adopt(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, &error));
  if (!json_is_object(object.get())) {
    why = "not a JSON object";
    return DecodeResult::kMalformed;
  }
  const auto version = integer_member(object.get(), "v");
  if (!version || *version != kMessageVersion) {
    why = "version is not " + std::to_string(kMessageVersion);
    return DecodeResult::kMalformed;
  }
  const auto type = string_member(object.get(), "type");
  const auto* const name = type ? std::find_if(kMessageTypeNames.begin(), kMessageTypeNames.end(),
                                               [&](const char* known) { return *type == known; })
                                : kMessageTypeNames.end();
  if (name == kMessageTypeNames.end()) {
    why = "unknown type";
    return DecodeResult::kMalformed;
  }
  NodeMessage message;
  message.type = static_cast<MessageType>(name - kMessageTypeNames.begin());
  auto text = [&](const char* key) {
    return std::string(string_member(object.get(), key).value_or(""));
  };
  message.from_node = text("from_node");
  message.device_id = text("device_id");
  message.relay_id = text("relay_id");
  message.address = text("address");
  message.reason = text("reason");
  if (message.type == MessageType::kRelayRefuse) {
    const auto code = integer_member(object.get(), "code");
    message.code = code && *code >= 0 && *code < 1000000 ? static_cast<int>(*code) : 0;
  }
  if (has_media(message.type)) {
    if (const json_t* media = member(object.get(), "media")) {
      if (!json_is_object(media)) {
        why = "media is not an object";
        return DecodeResult::kMalformed;
      }
      message.media = dump(media);
    }
  }
  if (std::string wrong = schema_error(message); !wrong.empty()) {
    why = std::string(message_type_name(message.type)) + ": " + wrong;
    return DecodeResult::kMalformed;
  }
  out = std::move(message);
  return DecodeResult::kOk;
}

}  // namespace jmedia::cluster
