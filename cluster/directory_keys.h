// What the directory keeps in Redis, every key under one prefix (README, "Scale-out"):
//   jmedia:nodes                 SET of node ids (an index; a member whose record has expired
//                                is a dead node, pruned by whoever lists)
//   jmedia:node:<node>           STRING, the node's JSON record, PX node_ttl_ms
//   jmedia:node:<node>:devices   HASH device_id -> viewers on that node, PX node_ttl_ms
//   jmedia:device:<device_id>    STRING, the node that publishes it, PX node_ttl_ms (the claim)
// and one pub/sub channel per node (channels are not keys: nothing stored, no TTL):
//   jmedia:node:<node>:inbox     the node's messages from other nodes (node_messages.h), read
//                                by its NodeChannel (node_channel.h)
// node ids have no ':' (valid_node_id), so the keys cannot collide.
#pragma once

#include <string>

namespace jmedia::cluster {

inline constexpr const char* kKeyPrefix = "jmedia:";

inline std::string nodes_key() {
  return std::string(kKeyPrefix) + "nodes";
}
inline std::string node_key(const std::string& node) {
  return std::string(kKeyPrefix) + "node:" + node;
}
inline std::string node_devices_key(const std::string& node) {
  return node_key(node) + ":devices";
}
inline std::string node_inbox_channel(const std::string& node) {
  return node_key(node) + ":inbox";
}
inline std::string device_key(const std::string& device) {
  return std::string(kKeyPrefix) + "device:" + device;
}

// KEYS[1] a claim, ARGV[1] this node, ARGV[2] the TTL: refreshes the claim when it is ours (1),
// takes it again when nobody holds it (2, e.g. after Redis lost its data), else returns the
// holder. What a heartbeat runs for every device this node publishes.
inline constexpr const char* kKeepScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end "
    "return v";
// KEYS[1] a claim, ARGV[1] this node: deletes the claim only when it is ours (1), else 0.
inline constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

}  // namespace jmedia::cluster
