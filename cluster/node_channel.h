// This node's inbox (node_inbox_channel, directory_keys.h) and its way to the other nodes'
// inboxes: the relays' control plane (node_messages.h; README, "Scale-out").
//
// SUBSCRIBE needs a connection of its own (a subscribed connection can do nothing else): one
// RedisLink on a thread of ours (jm-cluster-sub) that polls it, PINGs it every heartbeat (a
// link that stops answering is dropped), reconnects with the directory's backoff and
// subscribes again. Messages go out through the directory thread's connection (PUBLISH,
// Directory::publish): send() never waits.
//
// Pub/sub is at most once: a message published while the receiver is not subscribed (Redis
// restarting, its link reconnecting, the node dead) is lost, and so is one queued here when
// the directory's link breaks. So the asker of a relay retries: request_relay() resends the
// same relay_request (same relay_id) every relay_retry until the origin answers with a
// relay_accept or relay_refuse of that relay_id, and tells the listener after relay_attempts
// unanswered sends. The origin must answer a relay_request whose relay_id it knows already
// as it did the first time (the relay exists: accept again). Only the first answer to a
// pending request reaches the listener; later ones, and answers nobody waits for, are
// dropped (counted as unmatched). Every other message is delivered as it comes, at most once.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster_config.h"
#include "node_messages.h"

struct redisReply;

namespace jmedia::cluster {

class Directory;
class RedisLink;
struct DirectoryOptions;

// What the channel tells its owner, on the channel's thread (one at a time, in arrival
// order). Must outlive the channel; a throw is logged and the next message is delivered.
class NodeChannelListener {
 public:
  virtual ~NodeChannelListener() = default;
  // A valid, signed message sent to this node (relay_accept and relay_refuse only as the first
  // answer to a request_relay of this node).
  virtual void received(const NodeMessage& message) = 0;
  // request_relay's relay_request got no answer after relay_attempts sends.
  virtual void relay_unanswered(const NodeMessage& request) = 0;
};

class NodeChannel {
 public:
  enum class Drop : int {
    kOversized,     // received: over kMaxMessageBytes
    kMalformed,     // received: not the schema (node_messages.h)
    kBadSignature,  // received: not signed with this node's cluster.secret
    kUnmatched,     // received: an answer to no pending request (a late or repeated one)
    kUnsent,        // to send: Redis unreachable, too many queued, or not the schema
  };
  static constexpr int kDropCount = 5;
  static constexpr std::array<const char*, kDropCount> kDropNames = {
      "oversized", "malformed", "bad_signature", "unmatched", "unsent"};
  // Pending request_relay's at most (a bound on what a flood of watches can hold here).
  static constexpr std::size_t kMaxPendingRequests = 4096;

  // Started by the Directory that owns it (DirectoryOptions' redis, node_id, secret, timing).
  NodeChannel(const DirectoryOptions& options, Directory& directory, NodeChannelListener& listener);
  ~NodeChannel();  // stop()
  NodeChannel(const NodeChannel&) = delete;
  NodeChannel& operator=(const NodeChannel&) = delete;

  // Any thread, never waits: message (from_node set here) to to_node's inbox; false when it
  // cannot go (see Drop::kUnsent). A relay_stop also ends this node's pending request_relay of
  // that relay_id.
  bool send(const std::string& to_node, NodeMessage message);
  // Any thread, never waits: asks origin for a relay of device_id to address (where this node
  // receives it), resent until answered (above). relay_id: the id the receiving end was made
  // with (its keys derive from it), or "" for a new one. The relay_id, or "" when it could not
  // be sent (the asker answers 1022 then).
  std::string request_relay(const std::string& origin, const std::string& device_id,
                            const std::string& address, std::string relay_id = {});
  // Unique in the cluster and across restarts: "<node_id>-" then 128 random bits
  // (cluster::new_relay_id, relay_keys.h).
  std::string new_relay_id() const;

  bool subscribed() const { return subscribed_.load(std::memory_order_acquire); }
  std::uint64_t sent(MessageType type) const { return at(sent_, type); }
  std::uint64_t received(MessageType type) const { return at(received_, type); }
  std::uint64_t dropped(Drop drop) const {
    return dropped_[static_cast<std::size_t>(drop)].load(std::memory_order_relaxed);
  }
  std::uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }
  std::uint64_t unanswered() const { return unanswered_.load(std::memory_order_relaxed); }
  std::uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  const std::string& inbox() const { return inbox_; }

  // Stops the thread (the link goes with it). Idempotent.
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  using Counters = std::array<std::atomic<std::uint64_t>, kMessageTypeCount>;
  struct Pending {
    NodeMessage request;
    std::string origin;
    int sends = 0;
    Clock::time_point next;
  };
  static std::uint64_t at(const Counters& counters, MessageType type) {
    return counters[static_cast<std::size_t>(type)].load(std::memory_order_relaxed);
  }
  void pass();
  void connect();
  void broke(const std::string& why_text);
  void handle(const redisReply* reply);
  void deliver(const std::string& wire);
  void resend_due(Clock::time_point now);
  Clock::time_point next_due() const;
  bool publish(const std::string& to_node, const NodeMessage& message);
  void wake() const;
  void count_drop(Drop drop) {
    dropped_[static_cast<std::size_t>(drop)].fetch_add(1, std::memory_order_relaxed);
  }

  Directory& directory_;
  NodeChannelListener& listener_;
  const std::string node_id_;
  const std::string secret_;
  const std::string inbox_;
  const std::chrono::milliseconds heartbeat_;
  const std::chrono::milliseconds io_timeout_;
  const std::chrono::milliseconds backoff_min_;
  const std::chrono::milliseconds backoff_max_;
  const std::chrono::milliseconds relay_retry_;
  const int relay_attempts_;
  const Endpoint redis_;
  const std::string password_;
  const int wake_fd_;  // an eventfd: stop() and new requests cut the thread's poll short

  // Lock order: requests_mutex_ is a leaf; never held across a Redis call or a listener call.
  mutable std::mutex requests_mutex_;
  std::map<std::string, Pending> requests_;  // by relay_id

  // The channel thread's only.
  std::unique_ptr<RedisLink> link_;
  Clock::time_point next_connect_{};
  Clock::time_point next_ping_{};
  Clock::time_point pong_deadline_{};
  bool awaiting_pong_ = false;
  std::chrono::milliseconds backoff_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  Counters sent_{};
  Counters received_{};
  std::array<std::atomic<std::uint64_t>, kDropCount> dropped_{};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> unanswered_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::thread thread_;  // last: started once everything above is built
};

}  // namespace jmedia::cluster
