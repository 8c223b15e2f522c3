// The cluster directory client: this node's record and its device claims in Redis, kept by one
// thread of ours (never a Janus thread) with blocking hiredis calls, each bounded by a socket
// timeout. Blocking calls on a dedicated thread keep the protocol code linear (a heartbeat is
// two pipelined round trips) and need no event loop next to Janus's; what other threads ask
// (claim, lookup) waits for this thread with a bound of its own, and nothing else ever waits.
//
// Claims: publish claims device -> node with SET NX PX; every heartbeat refreshes each claim of
// this node only while it is still ours (kKeepScript), or takes it back when nobody holds it
// (Redis restarted); unpublish releases it only if ours. While Redis is unreachable a publish
// is accepted locally and claimed when Redis is back; a device found held by another node then
// is lost here: the listener must end its local publisher (the holder in Redis wins).
//
// Liveness: every heartbeat reads the live nodes (those whose record has not expired); the
// listener hears of a node that appeared and of one that is gone, so a node that dies
// without a word (SIGKILL) is reported within node_ttl + one heartbeat of its last refresh.
// With a NodeChannelListener the directory also runs this node's inbox (node_channel.h),
// whose messages go out on the directory thread's connection (publish()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_config.h"

namespace jmedia::cluster {

class RedisLink;

struct NodeLoad {
  std::size_t sessions = 0;
  std::size_t viewers = 0;
};

struct PublishedDevice {
  std::string device_id;
  std::size_t viewers = 0;
};

// What the directory asks of its owner, on the directory thread. The owner's devices are the
// truth: every heartbeat claims exactly what it publishes. Must outlive the Directory. A
// callback must not call claim() or lookup() (they wait for this very thread: unavailable
// after DirectoryOptions::wait); release(), publish() and the channel's sends never wait.
class DirectoryListener {
 public:
  virtual ~DirectoryListener() = default;
  virtual NodeLoad load() = 0;
  // Every device with a local publisher.
  virtual std::vector<PublishedDevice> published() = 0;
  virtual bool publishes(const std::string& device_id) = 0;
  // device_id, published here, is held by node `holder` in Redis: end the local publisher.
  virtual void device_lost(const std::string& device_id, const std::string& holder) = 0;
  // Another node's record appeared (a node started, or the first heartbeat after this one
  // started or Redis came back), or is gone: it expired (the node died, or lost Redis) or it
  // withdrew. Compared with the last view read, across an outage of Redis too.
  virtual void node_joined(const std::string& /*node_id*/) {}
  virtual void node_left(const std::string& /*node_id*/) {}
  // Redis is reachable again and this node registered (record, claims of every device it
  // publishes), or it was lost: meanwhile claims are local only, and lookup() and view()
  // say unavailable (remote watch: 1022). Once each per change, not at every failed attempt.
  virtual void directory_up() {}
  virtual void directory_down() {}
};

class NodeChannel;
class NodeChannelListener;

// The directory's contents as last read (every heartbeat).
struct ClusterView {
  struct Node {
    std::string node_id;
    std::string record;  // the node's JSON record as stored
  };
  struct Entry {
    std::string device_id;
    std::string node_id;
    std::size_t viewers = 0;
  };
  std::vector<Node> nodes;     // live nodes, by node_id
  std::vector<Entry> devices;  // by device_id
};

struct DirectoryOptions {
  Endpoint redis;
  std::string password;
  std::string node_id;
  std::string api_url;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds node_ttl{5000};
  // How long claim and lookup wait for the directory thread at most.
  std::chrono::milliseconds wait{500};
  // Reconnection backoff: doubles from min to max.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{2000};
  // The node messages (node_channel.h): signed with cluster.secret; an unanswered
  // relay_request is sent relay_attempts times, relay_retry apart.
  std::string secret;
  std::chrono::milliseconds relay_retry{1000};
  int relay_attempts = 3;
};

// Every Redis call of the directory and the channel ends well before a claim could expire: a
// quarter of the TTL, 100 ms to 1 s.
std::chrono::milliseconds redis_io_timeout(std::chrono::milliseconds node_ttl);

class Directory {
 public:
  enum class ClaimResult {
    kClaimed,      // the directory holds device -> this node
    kTaken,        // another live node holds it (holder says which)
    kUnavailable,  // Redis unreachable or too slow: accepted locally, claimed when it is back
  };
  struct Claim {
    ClaimResult result;
    std::string holder;
  };
  struct Lookup {
    bool available = false;  // false: Redis unreachable (or too slow)
    std::string holder;      // "" when nobody holds the device
  };

  // messages: this node's inbox is run too (channel()), when given; must outlive the Directory.
  Directory(DirectoryOptions options, DirectoryListener& listener,
            NodeChannelListener* messages = nullptr);
  ~Directory();  // stop()
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // Worker threads (bounded by options.wait).
  Claim claim(const std::string& device_id);
  Lookup lookup(const std::string& device_id);
  // Any thread, never waits: the claim goes (only if ours) on the directory thread.
  void release(const std::string& device_id);
  // Any thread, never waits: PUBLISH channel payload on the directory thread, at most once.
  // False (not sent) while Redis is unreachable, once stopped, or with kMaxQueuedPublishes
  // waiting; one queued when the link breaks is dropped.
  bool publish(const std::string& channel, std::string payload);
  static constexpr std::size_t kMaxQueuedPublishes = 1024;
  // This node's inbox; null without a NodeChannelListener.
  NodeChannel* channel() const { return channel_.get(); }

  // Any thread: the view of the last heartbeat, null while Redis is unreachable.
  std::shared_ptr<const ClusterView> view() const;
  bool redis_up() const { return up_.load(std::memory_order_acquire); }
  std::size_t live_nodes() const { return nodes_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  std::uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  const std::string& node_id() const { return options_.node_id; }

  // Stops the channel, then the thread; with clean, deletes this node's record and releases
  // its claims (one bounded attempt). Idempotent.
  void stop(bool clean = true);

 private:
  struct Pending;
  enum class OpKind { kClaim, kLookup, kRelease, kPublish };
  struct Op {
    OpKind kind;
    std::string device_id;             // the channel for a publish
    std::shared_ptr<Pending> pending;  // null for a release and a publish
    std::string payload;               // a publish's
  };
  void pass();
  void drain_ops_unavailable();
  bool connect();
  void heartbeat();
  void read_view();
  void run_op(Op& op);
  void broke(const std::string& why_text);
  void cleanup();
  std::shared_ptr<Pending> submit(OpKind kind, const std::string& device_id);
  std::string record_json();

  const DirectoryOptions options_;
  DirectoryListener& listener_;
  const std::string ttl_text_;
  std::unique_ptr<RedisLink> link_;  // the directory thread's only

  // Lock order: mutex_ before a Pending's mutex; neither is held across a Redis call.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Op> ops_;
  std::set<std::string> to_release_;  // released while Redis was unreachable
  std::size_t queued_publishes_ = 0;
  bool stopping_ = false;
  std::shared_ptr<const ClusterView> view_;
  // The directory thread's only.
  std::chrono::steady_clock::time_point next_beat_{};
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::milliseconds backoff_;
  std::set<std::string> live_others_;  // other nodes live at the last view read
  // Until then a node missing from the view is not reported gone (see read_view).
  std::chrono::steady_clock::time_point settle_until_{};

  std::atomic<bool> up_{false};
  std::atomic<std::size_t> nodes_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::thread thread_;  // started once everything above is built
  // Started after the thread (it publishes through it), stopped before it.
  std::unique_ptr<NodeChannel> channel_;
};

}  // namespace jmedia::cluster
