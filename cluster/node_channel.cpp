#include "node_channel.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "../common/abi_guard.h"
#include "../common/log.h"
#include "directory.h"
#include "directory_keys.h"
#include "redis_link.h"
#include "relay_keys.h"

namespace jmedia::cluster {
namespace {

// ["subscribe", channel, n], ["message", channel, payload], ["pong", ""]: the first element.
std::string kind_of(const redisReply* reply) {
  return string_of(element(reply, 0)).value_or("");
}

}  // namespace

NodeChannel::NodeChannel(const DirectoryOptions& options, Directory& directory,
                         NodeChannelListener& listener)
    : directory_(directory),
      listener_(listener),
      node_id_(options.node_id),
      secret_(options.secret),
      inbox_(node_inbox_channel(options.node_id)),
      heartbeat_(options.heartbeat),
      io_timeout_(redis_io_timeout(options.node_ttl)),
      backoff_min_(options.backoff_min),
      backoff_max_(options.backoff_max),
      relay_retry_(options.relay_retry),
      relay_attempts_(std::max(1, options.relay_attempts)),
      redis_(options.redis),
      password_(options.password),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      backoff_(options.backoff_min) {
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  thread_ = guarded_thread("cluster node channel", "jm-cluster-sub", [this] {
    while (!stopping_.load(std::memory_order_acquire)) {
      // One failed pass (bad_alloc) is logged; the next one runs.
      guarded_void("cluster node channel: pass", [this] { pass(); });
    }
  });
}

NodeChannel::~NodeChannel() {
  stop();
  ::close(wake_fd_);
}

void NodeChannel::stop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  wake();
  if (thread_.joinable()) thread_.join();
  link_.reset();
  subscribed_.store(false, std::memory_order_release);
}

void NodeChannel::wake() const {
  const std::uint64_t one = 1;
  // Full (never: it counts to 2^64-2) or closed: the thread wakes anyway within its period.
  [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
}

std::string NodeChannel::new_relay_id() const {
  return cluster::new_relay_id(node_id_ + "-");
}

bool NodeChannel::publish(const std::string& to_node, const NodeMessage& message) {
  const std::string wire = encode_message(message, secret_);
  if (wire.empty()) {
    log_warn("cluster: a %s for node '%s' breaks the message schema: not sent",
             message_type_name(message.type), to_node.c_str());
    count_drop(Drop::kUnsent);
    return false;
  }
  if (!directory_.publish(node_inbox_channel(to_node), wire)) {
    count_drop(Drop::kUnsent);
    return false;
  }
  sent_[static_cast<std::size_t>(message.type)].fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool NodeChannel::send(const std::string& to_node, NodeMessage message) {
  if (!valid_node_id(to_node)) {
    count_drop(Drop::kUnsent);
    return false;
  }
  message.from_node = node_id_;
  if (message.type == MessageType::kRelayStop) {
    std::lock_guard lock(requests_mutex_);
    requests_.erase(message.relay_id);
  }
  return publish(to_node, message);
}

std::string NodeChannel::request_relay(const std::string& origin, const std::string& device_id,
                                       const std::string& address, std::string relay_id) {
  if (!valid_node_id(origin)) {
    count_drop(Drop::kUnsent);
    return "";
  }
  NodeMessage request;
  request.type = MessageType::kRelayRequest;
  request.from_node = node_id_;
  request.device_id = device_id;
  request.relay_id = relay_id.empty() ? new_relay_id() : std::move(relay_id);
  request.address = address;
  {
    // Pending before it goes: the answer may be back before publish() returns.
    std::lock_guard lock(requests_mutex_);
    if (requests_.size() >= kMaxPendingRequests) {
      count_drop(Drop::kUnsent);
      return "";
    }
    requests_[request.relay_id] = Pending{request, origin, 1, Clock::now() + relay_retry_};
  }
  if (!publish(origin, request)) {
    std::lock_guard lock(requests_mutex_);
    requests_.erase(request.relay_id);
    return "";
  }
  wake();  // the thread's next wake-up may be later than this request's first resend
  return request.relay_id;
}

NodeChannel::Clock::time_point NodeChannel::next_due() const {
  std::lock_guard lock(requests_mutex_);
  auto due = Clock::time_point::max();
  for (const auto& [id, pending] : requests_) due = std::min(due, pending.next);
  return due;
}

void NodeChannel::resend_due(Clock::time_point now) {
  std::vector<Pending> resend;
  std::vector<Pending> expired;
  {
    std::lock_guard lock(requests_mutex_);
    for (auto it = requests_.begin(); it != requests_.end();) {
      Pending& pending = it->second;
      if (pending.next > now) {
        ++it;
        continue;
      }
      if (pending.sends >= relay_attempts_) {
        expired.push_back(std::move(pending));
        it = requests_.erase(it);
        continue;
      }
      ++pending.sends;
      pending.next = now + relay_retry_;
      resend.push_back(pending);
      ++it;
    }
  }
  for (const auto& pending : resend) {
    retries_.fetch_add(1, std::memory_order_relaxed);
    publish(pending.origin, pending.request);
  }
  for (const auto& pending : expired) {
    unanswered_.fetch_add(1, std::memory_order_relaxed);
    log_warn("cluster: node '%s' did not answer relay request %s (device %s) after %d sends",
             pending.origin.c_str(), pending.request.relay_id.c_str(),
             pending.request.device_id.c_str(), relay_attempts_);
    guarded_void("cluster node channel: relay_unanswered",
                 [&] { listener_.relay_unanswered(pending.request); });
  }
}

void NodeChannel::connect() {
  std::string why;
  link_ = RedisLink::connect(redis_, password_, io_timeout_, why);
  if (link_ && !link_->send({"SUBSCRIBE", inbox_})) why = link_->why();
  // The confirmation, bounded: nothing else can come before it.
  bool confirmed = false;
  const auto deadline = Clock::now() + io_timeout_;
  while (link_ && !link_->broken() && !confirmed && Clock::now() < deadline) {
    pollfd fd{link_->fd(), POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (::poll(&fd, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) continue;
    std::vector<ReplyPtr> replies;
    const bool ok = link_->receive(replies);
    for (const auto& reply : replies) {
      if (confirmed) {
        handle(reply.get());  // a message right behind the confirmation, in the same read
      } else if (kind_of(reply.get()) == "subscribe") {
        confirmed = true;
      }
    }
    if (!ok) break;
  }
  if (!confirmed) {
    if (link_) why = link_->broken() ? link_->why() : "no answer to SUBSCRIBE";
    link_.reset();
    errors_.fetch_add(1, std::memory_order_relaxed);
    log_verbose("cluster: cannot subscribe to %s at redis %s: %s (next attempt in %lld ms)",
                inbox_.c_str(), redis_.text().c_str(), why.c_str(),
                static_cast<long long>(backoff_.count()));
    next_connect_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, backoff_max_);
    return;
  }
  backoff_ = backoff_min_;
  awaiting_pong_ = false;
  next_ping_ = Clock::now() + heartbeat_;
  connects_.fetch_add(1, std::memory_order_relaxed);
  subscribed_.store(true, std::memory_order_release);
  log_info("cluster: node '%s' listens on %s at redis %s", node_id_.c_str(), inbox_.c_str(),
           redis_.text().c_str());
}

void NodeChannel::broke(const std::string& why_text) {
  const std::string why = why_text;  // NOLINT(performance-unnecessary-copy-initialization)
  errors_.fetch_add(1, std::memory_order_relaxed);
  link_.reset();
  if (subscribed_.exchange(false, std::memory_order_acq_rel)) {
    log_warn(
        "cluster: node '%s' lost its inbox %s at redis %s (%s): messages sent to it are lost "
        "until it subscribes again",
        node_id_.c_str(), inbox_.c_str(), redis_.text().c_str(), why.c_str());
  }
  next_connect_ = Clock::now() + backoff_;
}

void NodeChannel::pass() {
  auto now = Clock::now();
  if (!link_ && now >= next_connect_) {
    connect();
    now = Clock::now();
  }
  resend_due(now);
  const auto until =
      std::min(next_due(), link_ ? (awaiting_pong_ ? pong_deadline_ : next_ping_) : next_connect_);
  const auto wait = std::clamp<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1, 0, 1000);
  std::array<pollfd, 2> fds{pollfd{wake_fd_, POLLIN, 0},
                            pollfd{link_ ? link_->fd() : -1, POLLIN, 0}};
  if (::poll(fds.data(), link_ ? 2 : 1, static_cast<int>(wait)) > 0) {
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto read = ::read(wake_fd_, &count, sizeof count);
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    if (link_ && fds[1].revents != 0) {
      std::vector<ReplyPtr> replies;
      const bool ok = link_->receive(replies);
      for (const auto& reply : replies) handle(reply.get());  // what came before a break too
      if (!ok) return broke(link_->why());
    }
  }
  // After reading what arrived: a late pass must not take a PONG waiting in the socket for
  // a silent link.
  if (!link_) return;
  now = Clock::now();
  if (awaiting_pong_ && now >= pong_deadline_) return broke("no answer to PING");
  if (!awaiting_pong_ && now >= next_ping_) {
    if (!link_->send({"PING"})) return broke(link_->why());
    awaiting_pong_ = true;
    pong_deadline_ = now + std::max(2 * io_timeout_, heartbeat_);
  }
}

void NodeChannel::handle(const redisReply* reply) {
  const std::string kind = kind_of(reply);
  if (kind == "pong") {
    awaiting_pong_ = false;
    next_ping_ = Clock::now() + heartbeat_;
  } else if (kind == "message") {
    if (auto wire = string_of(element(reply, 2))) deliver(*wire);
  }
}

void NodeChannel::deliver(const std::string& wire) {
  NodeMessage message;
  std::string why;
  const DecodeResult result = decode_message(wire, secret_, message, why);
  if (result != DecodeResult::kOk) {
    const Drop drop = result == DecodeResult::kOversized      ? Drop::kOversized
                      : result == DecodeResult::kBadSignature ? Drop::kBadSignature
                                                              : Drop::kMalformed;
    count_drop(drop);
    log_verbose("cluster: a message on %s is dropped: %s", inbox_.c_str(), why.c_str());
    return;
  }
  if (message.type == MessageType::kRelayAccept || message.type == MessageType::kRelayRefuse) {
    std::lock_guard lock(requests_mutex_);
    auto pending = requests_.find(message.relay_id);
    if (pending == requests_.end() || pending->second.origin != message.from_node ||
        pending->second.request.device_id != message.device_id) {
      count_drop(Drop::kUnmatched);
      return;
    }
    requests_.erase(pending);
  }
  received_[static_cast<std::size_t>(message.type)].fetch_add(1, std::memory_order_relaxed);
  guarded_void("cluster node channel: received", [&] { listener_.received(message); });
}

}  // namespace jmedia::cluster
