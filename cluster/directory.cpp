#include "directory.h"

#include <algorithm>

#include "../common/abi_guard.h"
#include "../common/json.h"
#include "../common/log.h"
#include "directory_keys.h"
#include "node_channel.h"
#include "redis_link.h"

namespace jmedia::cluster {

using Clock = std::chrono::steady_clock;

// What claim and lookup wait for: set once by the directory thread, or abandoned by the
// caller after options.wait.
struct Directory::Pending {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  Claim claim{ClaimResult::kUnavailable, ""};
  Lookup lookup;
};

std::chrono::milliseconds redis_io_timeout(std::chrono::milliseconds node_ttl) {
  return std::clamp(node_ttl / 4, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
}

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Directory::Directory(DirectoryOptions options, DirectoryListener& listener,
                     NodeChannelListener* messages)
    : options_(std::move(options)),
      listener_(listener),
      ttl_text_(std::to_string(options_.node_ttl.count())),
      backoff_(options_.backoff_min) {
  thread_ = guarded_thread("cluster directory", "jm-directory", [this] {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) break;
      }
      // One failed pass (bad_alloc, a throwing listener) is logged; the next one runs.
      guarded_void("cluster directory: pass", [this] { pass(); });
    }
  });
  if (messages != nullptr) {
    try {
      channel_ = std::make_unique<NodeChannel>(options_, *this, *messages);
    } catch (...) {
      stop(false);  // the thread must not outlive a constructor that throws
      throw;
    }
  }
}

Directory::~Directory() {
  stop();
}

void Directory::stop(bool clean) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;  // from here, publish() refuses: the channel's last sends fail at once
  }
  if (channel_) channel_->stop();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The thread is gone: its state is ours now.
  drain_ops_unavailable();
  if (clean) guarded_void("cluster directory: cleanup", [this] { cleanup(); });
  link_.reset();
  up_.store(false, std::memory_order_release);
}

std::shared_ptr<Directory::Pending> Directory::submit(OpKind kind, const std::string& device_id) {
  auto pending = std::make_shared<Pending>();
  {
    std::lock_guard lock(mutex_);
    // Unreachable: answered at once, nobody waits for a reconnection.
    if (stopping_ || !up_.load(std::memory_order_acquire)) return nullptr;
    ops_.push_back(Op{kind, device_id, pending});
  }
  wake_.notify_one();
  return pending;
}

Directory::Claim Directory::claim(const std::string& device_id) {
  auto pending = submit(OpKind::kClaim, device_id);
  if (!pending) return Claim{ClaimResult::kUnavailable, ""};
  std::unique_lock lock(pending->mutex);
  if (!pending->done_cv.wait_for(lock, options_.wait, [&] { return pending->done; })) {
    // Too slow: accepted locally; the next heartbeat claims it (or finds it lost).
    return Claim{ClaimResult::kUnavailable, ""};
  }
  return pending->claim;
}

Directory::Lookup Directory::lookup(const std::string& device_id) {
  auto pending = submit(OpKind::kLookup, device_id);
  if (!pending) return Lookup{};
  std::unique_lock lock(pending->mutex);
  if (!pending->done_cv.wait_for(lock, options_.wait, [&] { return pending->done; })) {
    return Lookup{};
  }
  return pending->lookup;
}

void Directory::release(const std::string& device_id) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (!up_.load(std::memory_order_acquire)) {
      to_release_.insert(device_id);  // at the reconnection (only if still ours)
      return;
    }
    ops_.push_back(Op{OpKind::kRelease, device_id, nullptr});
  }
  wake_.notify_one();
}

bool Directory::publish(const std::string& channel, std::string payload) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || !up_.load(std::memory_order_acquire) ||
        queued_publishes_ >= kMaxQueuedPublishes) {
      return false;
    }
    ++queued_publishes_;
    ops_.push_back(Op{OpKind::kPublish, channel, nullptr, std::move(payload)});
  }
  wake_.notify_one();
  return true;
}

std::shared_ptr<const ClusterView> Directory::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

void Directory::drain_ops_unavailable() {
  std::deque<Op> ops;
  {
    std::lock_guard lock(mutex_);
    ops.swap(ops_);
    queued_publishes_ = 0;  // dropped: at most once
    for (const auto& op : ops) {
      if (op.kind == OpKind::kRelease) to_release_.insert(op.device_id);
    }
  }
  for (auto& op : ops) {
    if (!op.pending) continue;
    std::lock_guard lock(op.pending->mutex);
    op.pending->done = true;  // results stay "unavailable"
    op.pending->done_cv.notify_all();
  }
}

void Directory::broke(const std::string& why_text) {
  // A copy first: why_text is often the broken link's own text, and the link goes here.
  const std::string why = why_text;  // NOLINT(performance-unnecessary-copy-initialization)
  errors_.fetch_add(1, std::memory_order_relaxed);
  link_.reset();
  const bool was_up = up_.exchange(false, std::memory_order_acq_rel);
  {
    std::lock_guard lock(mutex_);
    view_ = nullptr;
  }
  nodes_.store(0, std::memory_order_relaxed);
  if (was_up) {
    log_warn(
        "cluster: directory redis %s unreachable (%s): local devices go on; remote watch and "
        "cluster listings get 1022 until it is back",
        options_.redis.text().c_str(), why.c_str());
  }
  next_connect_ = Clock::now() + backoff_;
  drain_ops_unavailable();
  if (was_up) {
    guarded_void("cluster directory: directory_down", [this] { listener_.directory_down(); });
  }
}

bool Directory::connect() {
  std::string why;
  link_ = RedisLink::connect(options_.redis, options_.password, redis_io_timeout(options_.node_ttl),
                             why);
  if (!link_) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    log_verbose("cluster: cannot reach directory redis %s: %s (next attempt in %lld ms)",
                options_.redis.text().c_str(), why.c_str(),
                static_cast<long long>(backoff_.count()));
    next_connect_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
    return false;
  }
  backoff_ = options_.backoff_min;
  connects_.fetch_add(1, std::memory_order_relaxed);
  log_info("cluster: node '%s' connected to directory redis %s", options_.node_id.c_str(),
           options_.redis.text().c_str());
  return true;
}

void Directory::pass() {
  if (!link_) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_connect_, [this] { return stopping_; });
      if (stopping_) return;
    }
    if (!connect()) return;
    // Registered again (record, claims of every local device, released ones) before anyone is
    // told Redis is up.
    std::set<std::string> released;
    {
      std::lock_guard lock(mutex_);
      released.swap(to_release_);
    }
    for (const auto& device : released) {
      if (!link_) break;
      if (listener_.publishes(device)) continue;  // published here again: the heartbeat keeps it
      if (!link_->command({"EVAL", kReleaseScript, "1", device_key(device), options_.node_id})) {
        broke(link_->why());
      }
    }
    if (!link_) return;
    if (!live_others_.empty()) {
      // Our record gone while we were away (a Redis restarted empty, or an outage longer than
      // the TTL): the others' records may be gone too, until they are back.
      auto exists = link_->command({"EXISTS", node_key(options_.node_id)});
      if (!exists) return broke(link_->why());
      if (integer_of(exists.get()).value_or(0) == 0) {
        settle_until_ = Clock::now() + options_.node_ttl;
      }
    }
    heartbeat();
    if (!link_) return;
    up_.store(true, std::memory_order_release);
    next_beat_ = Clock::now() + options_.heartbeat;
    guarded_void("cluster directory: directory_up", [this] { listener_.directory_up(); });
    return;
  }
  std::deque<Op> ops;
  {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, next_beat_, [this] { return stopping_ || !ops_.empty(); });
    if (stopping_) return;
    ops.swap(ops_);
    queued_publishes_ = 0;
  }
  for (auto& op : ops) {
    if (link_) {
      run_op(op);
    } else {
      // The link broke on an earlier op: these are answered "unavailable".
      if (op.kind == OpKind::kRelease) {
        std::lock_guard lock(mutex_);
        to_release_.insert(op.device_id);
      } else if (op.pending) {
        std::lock_guard lock(op.pending->mutex);
        op.pending->done = true;
        op.pending->done_cv.notify_all();
      }
    }
  }
  if (link_ && Clock::now() >= next_beat_) {
    heartbeat();
    next_beat_ = Clock::now() + options_.heartbeat;
  }
}

void Directory::run_op(Op& op) {
  if (op.kind == OpKind::kPublish) {
    // The reply counts the subscribers that got it (0: the node is not listening): at most
    // once, nothing to do with it.
    auto reply = link_->command({"PUBLISH", op.device_id, op.payload});
    if (!reply) return broke(link_->why());
    if (is_error(reply.get())) errors_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string key = device_key(op.device_id);
  if (op.kind == OpKind::kRelease) {
    if (listener_.publishes(op.device_id)) return;  // a new local publisher holds it again
    auto reply = link_->command({"EVAL", kReleaseScript, "1", key, options_.node_id});
    if (!reply) return broke(link_->why());
    if (is_error(reply.get())) errors_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Claim claim{ClaimResult::kUnavailable, ""};
  Lookup lookup;
  bool ok = true;
  if (op.kind == OpKind::kClaim) {
    // SET NX; when that fails, who holds it (this node: a second local publish of the device,
    // which the local registry answers). Twice: the claim may expire between SET and GET.
    for (int attempt = 0; attempt < 2 && ok; ++attempt) {
      auto set = link_->command({"SET", key, options_.node_id, "NX", "PX", ttl_text_});
      if (!set) {
        ok = false;
        break;
      }
      if (!is_nil(set.get()) && !is_error(set.get())) {
        claim = Claim{ClaimResult::kClaimed, options_.node_id};
        // Listed at once, not only from the next heartbeat.
        link_->command({"HSET", node_devices_key(options_.node_id), op.device_id, "0"});
        if (link_->broken()) ok = false;
        break;
      }
      if (is_error(set.get())) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      auto get = link_->command({"GET", key});
      if (!get) {
        ok = false;
        break;
      }
      if (auto holder = string_of(get.get())) {
        claim = Claim{*holder == options_.node_id ? ClaimResult::kClaimed : ClaimResult::kTaken,
                      *holder};
        break;
      }
    }
  } else {
    auto get = link_->command({"GET", key});
    if (!get) {
      ok = false;
    } else {
      lookup.available = !is_error(get.get());
      lookup.holder = string_of(get.get()).value_or("");
    }
  }
  if (!ok) broke(link_ ? link_->why() : "link lost");
  std::lock_guard lock(op.pending->mutex);
  op.pending->claim = std::move(claim);
  op.pending->lookup = std::move(lookup);
  op.pending->done = true;
  op.pending->done_cv.notify_all();
}

std::string Directory::record_json() {
  const NodeLoad load = listener_.load();
  JsonPtr record = adopt(json_object());
  set(record.get(), "node_id", options_.node_id);
  if (!options_.api_url.empty()) set(record.get(), "api_url", options_.api_url);
  set(record.get(), "sessions", static_cast<std::uint64_t>(load.sessions));
  set(record.get(), "viewers", static_cast<std::uint64_t>(load.viewers));
  set(record.get(), "heartbeat_ms", static_cast<std::int64_t>(options_.heartbeat.count()));
  set(record.get(), "updated_unix_ms", unix_ms());
  return dump(record.get());
}

void Directory::heartbeat() {
  const auto devices = listener_.published();
  std::vector<RedisLink::Args> first;
  first.reserve(devices.size() + 2);
  first.push_back({"SET", node_key(options_.node_id), record_json(), "PX", ttl_text_});
  first.push_back({"SADD", nodes_key(), options_.node_id});
  for (const auto& device : devices) {
    first.push_back(
        {"EVAL", kKeepScript, "1", device_key(device.device_id), options_.node_id, ttl_text_});
  }
  auto replies = link_->pipeline(first);
  if (replies.empty()) return broke(link_->why());
  std::vector<RedisLink::Args> listing{{"MULTI"}, {"DEL", node_devices_key(options_.node_id)}};
  RedisLink::Args hset{"HSET", node_devices_key(options_.node_id)};
  std::vector<std::pair<std::string, std::string>> lost;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto* reply = replies[i + 2].get();
    if (auto holder = string_of(reply); holder && !is_error(reply)) {
      lost.emplace_back(devices[i].device_id, *holder);
    } else if (integer_of(reply)) {
      hset.push_back(devices[i].device_id);
      hset.push_back(std::to_string(devices[i].viewers));
    } else {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  for (const auto& reply : replies) {
    if (is_error(reply.get())) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      log_warn("cluster: directory error: %s", string_of(reply.get()).value_or("?").c_str());
      break;
    }
  }
  if (hset.size() > 2) listing.push_back(std::move(hset));
  listing.push_back({"PEXPIRE", node_devices_key(options_.node_id), ttl_text_});
  listing.push_back({"EXEC"});
  if (link_->pipeline(listing).empty()) return broke(link_->why());
  for (const auto& [device, holder] : lost) {
    log_warn(
        "cluster: device '%s' is held by node '%s' in the directory (claimed there while this "
        "node could not reach it): its publisher here is ended",
        device.c_str(), holder.c_str());
    listener_.device_lost(device, holder);
  }
  read_view();
}

void Directory::read_view() {
  auto members = link_->command({"SMEMBERS", nodes_key()});
  if (!members) return broke(link_->why());
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < elements_of(members.get()); ++i) {
    if (auto id = string_of(element(members.get(), i))) ids.push_back(std::move(*id));
  }
  std::sort(ids.begin(), ids.end());
  std::vector<RedisLink::Args> reads;
  reads.reserve(ids.size() * 2);
  for (const auto& id : ids) {
    reads.push_back({"GET", node_key(id)});
    reads.push_back({"HGETALL", node_devices_key(id)});
  }
  auto replies = link_->pipeline(reads);
  if (replies.empty() && !reads.empty()) return broke(link_->why());
  auto view = std::make_shared<ClusterView>();
  RedisLink::Args dead{"SREM", nodes_key()};
  for (std::size_t n = 0; n < ids.size(); ++n) {
    auto record = string_of(replies[2 * n].get());
    if (!record) {
      dead.push_back(ids[n]);  // its record expired: a dead node
      continue;
    }
    view->nodes.push_back(ClusterView::Node{ids[n], std::move(*record)});
    const auto* hash = replies[2 * n + 1].get();
    for (std::size_t i = 0; i + 1 < elements_of(hash); i += 2) {
      auto device = string_of(element(hash, i));
      auto viewers = string_of(element(hash, i + 1));
      if (!device) continue;
      view->devices.push_back(ClusterView::Entry{
          std::move(*device), ids[n],
          static_cast<std::size_t>(std::strtoull(viewers.value_or("0").c_str(), nullptr, 10))});
    }
  }
  if (dead.size() > 2) {
    if (!link_->command(dead)) return broke(link_->why());
  }
  std::sort(view->devices.begin(), view->devices.end(), [](const auto& a, const auto& b) {
    return a.device_id != b.device_id ? a.device_id < b.device_id : a.node_id < b.node_id;
  });
  nodes_.store(view->nodes.size(), std::memory_order_relaxed);
  std::set<std::string> live;
  for (const auto& node : view->nodes) {
    if (node.node_id != options_.node_id) live.insert(node.node_id);
  }
  {
    std::lock_guard lock(mutex_);
    view_ = std::move(view);
  }
  // Reconnected to a Redis that lost this node's record (restarted empty): the other nodes
  // fill it again at their own reconnection, up to node_ttl later; until then a node missing
  // from the view is not gone (it would be, had its record expired in a Redis that kept it).
  const bool settling = Clock::now() < settle_until_;
  // After the view is published: a listener that reads it sees the change.
  for (const auto& id : live_others_) {
    if (live.contains(id)) continue;
    if (settling) {
      live.insert(id);  // still live, until it registers again or the grace ends
      continue;
    }
    log_info("cluster: node '%s' is gone from the directory", id.c_str());
    guarded_void("cluster directory: node_left", [&] { listener_.node_left(id); });
  }
  for (const auto& id : live) {
    if (!live_others_.contains(id)) {
      log_info("cluster: node '%s' is live in the directory", id.c_str());
      guarded_void("cluster directory: node_joined", [&] { listener_.node_joined(id); });
    }
  }
  live_others_ = std::move(live);
}

void Directory::cleanup() {
  if (!link_) return;
  std::vector<RedisLink::Args> commands{{"DEL", node_key(options_.node_id)},
                                        {"DEL", node_devices_key(options_.node_id)},
                                        {"SREM", nodes_key(), options_.node_id}};
  std::set<std::string> devices;
  {
    std::lock_guard lock(mutex_);
    devices.swap(to_release_);
  }
  for (const auto& device : listener_.published()) devices.insert(device.device_id);
  for (const auto& device : devices) {
    commands.push_back({"EVAL", kReleaseScript, "1", device_key(device), options_.node_id});
  }
  if (link_->pipeline(commands).empty()) {
    log_warn("cluster: could not withdraw node '%s' from the directory (%s): its keys expire",
             options_.node_id.c_str(), link_->why().c_str());
    return;
  }
  log_info("cluster: node '%s' withdrawn from the directory", options_.node_id.c_str());
}

}  // namespace jmedia::cluster
