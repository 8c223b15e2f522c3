// This node's viewers of devices published on other nodes, each device through one inbound
// relay from its origin (remote_relays.h; README, "Scale-out").
#include <algorithm>
#include <utility>

#include "../cluster/node_channel.h"
#include "../common/abi_guard.h"
#include "../common/log.h"
#include "remote_relays.h"

namespace jmedia {
namespace {

using std::chrono::milliseconds;

// "host:port" or "[v6]:port", as node_messages.cpp checked it.
bool split_address(const std::string& text, std::string& host, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  port = 0;
  for (std::size_t i = colon + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || port > 65535) return false;
    port = port * 10 + (text[i] - '0');
  }
  return !host.empty() && port > 0 && port <= 65535;
}

void add(RelayTotals& sum, const InboundRelay& relay) {
  const auto stats = relay.receiver().stats();
  sum.packets += stats.packets_received;
  sum.bytes += stats.bytes_received;
  sum.lost += stats.lost;
  sum.nacked += stats.nacked;
  sum.recovered += stats.recovered;
  sum.dropped += relay.dropped();
}

}  // namespace

MediaPlugin::RemoteRelays::RemoteRelays(MediaPlugin& plugin)
    : plugin_(plugin),
      linger_(milliseconds(plugin.config_.cluster.relay_linger_s * 1000)),
      silence_(milliseconds(plugin.config_.cluster.node_ttl_ms)),
      // The channel resends an unanswered request relay_attempts times, relay_retry apart
      // (DirectoryOptions' defaults: 3 x 1 s), then says so; a little more for the answer's way.
      answer_wait_(cluster::DirectoryOptions{}.relay_retry *
                       cluster::DirectoryOptions{}.relay_attempts +
                   milliseconds(1000)) {
  thread_ = guarded_thread("remote relays", "jm-remote", [this] { run(); });
}

MediaPlugin::RemoteRelays::~RemoteRelays() {
  stop();
}

void MediaPlugin::RemoteRelays::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The thread is gone: what is left is this thread's to end.
  std::map<std::string, std::shared_ptr<Remote>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(remotes_);
  }
  for (auto& [id, remote] : left) end_relay(*remote);
}

void MediaPlugin::RemoteRelays::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, milliseconds(100));
    if (stopping_) break;
    lock.unlock();
    // One failed pass (a throw, bad_alloc) is logged; the next one runs.
    guarded_void("remote relays", [this] { pass(Clock::now()); });
    lock.lock();
  }
}

void MediaPlugin::RemoteRelays::pass(Clock::time_point now) {
  std::vector<std::shared_ptr<Remote>> all;
  {
    std::lock_guard lock(mutex_);
    all.reserve(remotes_.size());
    for (const auto& [id, remote] : remotes_) all.push_back(remote);
  }
  for (const auto& remote : all) {
    const bool done = remote->done || step(remote, now);
    if (!done) continue;
    std::lock_guard lock(mutex_);
    remote->done = true;
    // Kept while a watch still reads its outcome; a new watch makes a new one.
    auto it = remotes_.find(remote->device_id);
    if (it != remotes_.end() && it->second == remote && remote->waiters == 0) remotes_.erase(it);
  }
}

void MediaPlugin::RemoteRelays::set_state(Remote& remote, State state, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  remote.state = state;
  remote.since = now;
  if (state == State::kReady) {
    // The waiting watches add their viewer (to the relayed device, or to a local one).
    remote.failure.reset();
    ++remote.round;
    changed_.notify_all();
  } else if (state == State::kLost) {
    remote.next_look = now + milliseconds(1000);
  }
}

void MediaPlugin::RemoteRelays::fail(Remote& remote, Error error) {
  log_info("cluster: device %s: no relay from node '%s': %s", remote.device_id.c_str(),
           remote.origin.c_str(), error.reason.c_str());
  std::lock_guard lock(mutex_);
  remote.failure = std::move(error);
  ++remote.round;
  changed_.notify_all();
}

void MediaPlugin::RemoteRelays::end_relay(Remote& remote) {
  if (!remote.relay) return;
  if (remote.device) plugin_.devices_.release_producer(remote.device, remote.relay.get());
  if (auto* channel = plugin_.directory_ ? plugin_.directory_->channel() : nullptr) {
    cluster::NodeMessage stop;
    stop.type = cluster::MessageType::kRelayStop;
    stop.device_id = remote.device_id;
    stop.relay_id = remote.relay_id;
    channel->send(remote.origin, std::move(stop));
  }
  std::shared_ptr<InboundRelay> relay;
  {
    std::lock_guard lock(mutex_);
    add(ended_, *remote.relay);
    relay = std::move(remote.relay);
    remote.relay_id.clear();
  }
  // Here, outside every lock: the receiver detaches from the relay loop.
  relay.reset();
}

bool MediaPlugin::RemoteRelays::ask(Remote& remote, Clock::time_point now) {
  const cluster::ClusterConfig& config = plugin_.config_.cluster;
  auto* channel = plugin_.directory_ ? plugin_.directory_->channel() : nullptr;
  auto failed = [&](const std::string& why) {
    fail(remote, Error{ErrorCode::kClusterUnavailable,
                       "device '" + remote.device_id + "' is published on node '" + remote.origin +
                           "', and no relay from it can be set up: " + why});
    set_state(remote, State::kLost, now);
    return false;
  };
  if (channel == nullptr || !plugin_.relay_loop_) return failed("no inbox");
  if (config.advertise_host.empty()) return failed("cluster.advertise_host is not set");
  cluster::RelayReceiverOptions options;
  options.relay_id = channel->new_relay_id();
  options.secret = config.secret;
  options.socket.host = config.advertise_host;
  options.socket.port_min = config.relay_port_min;
  options.socket.port_max = config.relay_port_max;
  options.socket.test_drop_percent = static_cast<unsigned>(config.test_relay_drop_percent);
  std::string error;
  auto relay = InboundRelay::create(*plugin_.relay_loop_, options, remote.origin, error);
  if (!relay) return failed(error);
  const std::string address = relay->receiver().local().text();
  {
    // Before the request goes: its answer may come back before request_relay returns.
    std::lock_guard lock(mutex_);
    remote.relay_id = options.relay_id;
    remote.answer.reset();
    remote.unanswered = false;
    remote.gone = false;
  }
  if (channel->request_relay(remote.origin, remote.device_id, address, options.relay_id).empty()) {
    {
      std::lock_guard lock(mutex_);
      remote.relay = std::move(relay);
    }
    end_relay(remote);
    return failed("the request cannot be sent (the directory is unreachable)");
  }
  {
    std::lock_guard lock(mutex_);
    remote.relay = std::move(relay);
  }
  log_verbose("cluster: device %s: relay %s asked of node '%s' (to %s)", remote.device_id.c_str(),
              options.relay_id.c_str(), remote.origin.c_str(), address.c_str());
  set_state(remote, State::kRequested, now);
  return false;
}

bool MediaPlugin::RemoteRelays::apply_accept(Remote& remote, const cluster::NodeMessage& accept,
                                             Clock::time_point now) {
  auto refused = [&](const std::string& why) {
    end_relay(remote);
    fail(remote, Error{ErrorCode::kClusterUnavailable,
                       "device '" + remote.device_id + "': the relay from node '" + remote.origin +
                           "' cannot be used: " + why});
    set_state(remote, State::kLost, now);
    return false;
  };
  std::string host;
  int port = 0;
  cluster::RelayAddress peer;
  std::string why;
  if (!split_address(accept.address, host, port) ||
      !cluster::RelayAddress::resolve(host, port, peer, why)) {
    return refused("its address '" + accept.address + "' does not resolve " + why);
  }
  if (accept.media.empty()) return refused("its accept announces no media");
  auto media = media_from_json(accept.media, why);
  if (!media) return refused("its media: " + why);
  remote.relay->receiver().set_peer(peer);
  auto claimed = plugin_.devices_.claim_producer(remote.device_id, remote.relay, *media);
  if (std::holds_alternative<Error>(claimed)) {
    // Published here meanwhile: the local publisher serves the viewers.
    end_relay(remote);
    set_state(remote, State::kReady, now);  // the waiting watches add their viewer again
    return true;
  }
  auto device = std::get<std::shared_ptr<Device>>(std::move(claimed));
  device->set_series_slot(plugin_.metrics_->device_slot(remote.device_id));
  remote.relay->bind(device, *media);
  {
    std::lock_guard lock(mutex_);
    remote.device = std::move(device);
    remote.idle_since = {};
  }
  log_info("cluster: device %s: relayed from node '%s' (relay %s)", remote.device_id.c_str(),
           remote.origin.c_str(), remote.relay_id.c_str());
  set_state(remote, State::kReady, now);
  return false;
}

bool MediaPlugin::RemoteRelays::step(const std::shared_ptr<Remote>& remote, Clock::time_point now) {
  std::optional<cluster::NodeMessage> answer;
  std::optional<std::string> joined;
  bool unanswered = false;
  bool left = false;
  bool gone = false;
  bool takeover = false;
  int waiters = 0;
  State state;
  {
    std::lock_guard lock(mutex_);
    answer.swap(remote->answer);
    joined.swap(remote->joined);
    unanswered = std::exchange(remote->unanswered, false);
    left = std::exchange(remote->left, false);
    gone = std::exchange(remote->gone, false);
    takeover = std::exchange(remote->takeover, false);
    if (auto want = std::exchange(remote->want, std::nullopt);
        want && remote->state == State::kLost) {
      remote->origin = std::move(*want);
      remote->state = State::kWanted;
    }
    waiters = remote->waiters;
    state = remote->state;
  }
  Remote& r = *remote;
  if (takeover) {
    end_relay(r);
    set_state(r, State::kReady, now);  // waiting watches find the local publisher
    return true;
  }
  const std::size_t viewers = r.device ? r.device->consumer_count() : 0;
  switch (state) {
    case State::kWanted:
      return ask(r, now);
    case State::kRequested:
      if (gone) {
        end_relay(r);
        fail(r, Error{ErrorCode::kClusterUnavailable,
                      "device '" + r.device_id + "': node '" + r.origin + "' left the cluster"});
        set_state(r, State::kLost, now);
        return false;
      }
      if (answer && answer->type == cluster::MessageType::kRelayAccept) {
        return apply_accept(r, *answer, now);
      }
      if (answer) {  // relay_refuse: nothing to stop on the origin
        {
          std::lock_guard lock(mutex_);
          add(ended_, *r.relay);
        }
        std::shared_ptr<InboundRelay> relay;
        {
          std::lock_guard lock(mutex_);
          relay = std::move(r.relay);
          r.relay_id.clear();
        }
        relay.reset();
        const int code = answer->code;
        fail(r, Error{code >= 1001 && code <= 1099 ? static_cast<ErrorCode>(code)
                                                   : ErrorCode::kNoSuchDevice,
                      "node '" + r.origin + "' refused to relay device '" + r.device_id +
                          "': " + answer->reason});
        set_state(r, State::kLost, now);
        return false;
      }
      if (unanswered || now - r.since > answer_wait_) {
        end_relay(r);
        fail(r, Error{ErrorCode::kClusterUnavailable,
                      "device '" + r.device_id + "' is published on node '" + r.origin +
                          "', which did not answer this node's relay request"});
        set_state(r, State::kLost, now);
      }
      return false;
    case State::kReady:
    case State::kLeft: {
      if (gone || (state == State::kReady && r.relay->receiver().peer_silent_for() > silence_ &&
                   now - r.since > silence_)) {
        log_info("cluster: device %s: node '%s' %s: its viewers here lose the publisher",
                 r.device_id.c_str(), r.origin.c_str(), gone ? "is gone" : "went silent");
        end_relay(r);
        set_state(r, State::kLost, now);
        return false;
      }
      if (left && state == State::kReady) {
        plugin_.devices_.release_producer(r.device, r.relay.get());
        set_state(r, State::kLeft, now);
        state = State::kLeft;
      }
      if (joined) {
        std::string why;
        auto media = joined->empty() ? std::nullopt : media_from_json(*joined, why);
        if (!media) {
          log_warn("cluster: device %s: publisher_joined from node '%s' without usable media%s%s",
                   r.device_id.c_str(), r.origin.c_str(), why.empty() ? "" : ": ", why.c_str());
        } else if (state == State::kLeft) {
          auto claimed = plugin_.devices_.claim_producer(r.device_id, r.relay, *media);
          if (std::holds_alternative<Error>(claimed)) {
            end_relay(r);  // published here meanwhile
            return true;
          }
          auto device = std::get<std::shared_ptr<Device>>(std::move(claimed));
          r.relay->bind(device, *media);
          {
            std::lock_guard lock(mutex_);
            r.device = std::move(device);
          }
          set_state(r, State::kReady, now);
          state = State::kReady;
        } else {
          r.relay->bind(r.device, *media);
          r.device->update_media(r.relay.get(), *media);
        }
      }
      if (state == State::kLeft && now >= r.next_look) {
        // The origin's publisher left: another node (or this one) may publish it now.
        {
          std::lock_guard lock(mutex_);
          r.next_look = now + milliseconds(1000);
        }
        const std::optional<std::string> holder = holder_in_view(r.device_id);
        if (holder && !holder->empty() && *holder != r.origin) {
          end_relay(r);
          if (*holder == plugin_.directory_->node_id()) return true;
          {
            std::lock_guard lock(mutex_);
            r.origin = *holder;
          }
          return ask(r, now);
        }
      }
      if (viewers != 0 || waiters != 0) {
        std::lock_guard lock(mutex_);
        r.idle_since = {};
        return false;
      }
      {
        std::lock_guard lock(mutex_);
        if (r.idle_since == Clock::time_point{}) r.idle_since = now;
        if (now - r.idle_since < linger_) return false;
      }
      // The linger is over: released only if no viewer came meanwhile (atomic with a watch).
      if (state == State::kReady &&
          !plugin_.devices_.release_idle_producer(r.device, r.relay.get())) {
        return false;
      }
      log_verbose("cluster: device %s: no viewer here for %lld s: relay %s from node '%s' ends",
                  r.device_id.c_str(), static_cast<long long>(linger_.count() / 1000),
                  r.relay_id.c_str(), r.origin.c_str());
      end_relay(r);
      return true;
    }
    case State::kLost: {
      // Watches answered already: looked for only while viewers wait here.
      if (viewers == 0) return waiters == 0;
      if (now < r.next_look) return false;
      {
        std::lock_guard lock(mutex_);
        r.next_look = now + milliseconds(1000);
      }
      const std::optional<std::string> holder = holder_in_view(r.device_id);
      if (!holder || holder->empty() || *holder == plugin_.directory_->node_id()) {
        return false;  // nobody (viewers wait), or here (the local publisher takes over)
      }
      {
        std::lock_guard lock(mutex_);
        r.origin = *holder;
      }
      return ask(r, now);
    }
  }
  return false;
}

std::optional<std::string> MediaPlugin::RemoteRelays::holder_in_view(
    const std::string& device_id) const {
  // The last heartbeat's view: no Redis call.
  const auto view = plugin_.directory_ ? plugin_.directory_->view() : nullptr;
  if (!view) return std::nullopt;
  const auto found = std::lower_bound(
      view->devices.begin(), view->devices.end(), device_id,
      [](const cluster::ClusterView::Entry& e, const std::string& id) { return e.device_id < id; });
  if (found == view->devices.end() || found->device_id != device_id) return std::string();
  return found->node_id;
}

std::optional<Error> MediaPlugin::RemoteRelays::wait_ready(const std::string& device_id,
                                                           const std::string& origin,
                                                           std::shared_ptr<void>& hold) {
  std::unique_lock lock(mutex_);
  if (stopping_) return Error{ErrorCode::kShuttingDown, "the plugin is stopping"};
  auto& slot = remotes_[device_id];
  if (!slot || slot->done) {
    if (remotes_.size() > kMaxRemoteDevices) {
      remotes_.erase(device_id);
      return Error{ErrorCode::kClusterUnavailable,
                   "device '" + device_id + "' is published on node '" + origin +
                       "', and this node relays " + std::to_string(kMaxRemoteDevices) +
                       " devices of other nodes already"};
    }
    slot = std::make_shared<Remote>();
    slot->device_id = device_id;
    slot->origin = origin;
    slot->state = State::kWanted;
    slot->since = Clock::now();
  } else if (slot->state == State::kLost) {
    slot->want = origin;  // the remote thread asks it
  } else if (slot->state == State::kLeft) {
    // The origin said its publisher left (another holder is found within a second).
    return Error{ErrorCode::kNoSuchDevice, "device '" + device_id + "' is not publishing"};
  }
  const std::shared_ptr<Remote> remote = slot;
  ++remote->waiters;
  hold = std::shared_ptr<void>(nullptr, [this, remote](void*) {
    std::lock_guard held(mutex_);
    --remote->waiters;
  });
  if (remote->state == State::kReady) return std::nullopt;
  wake_.notify_all();
  const std::uint64_t round = remote->round;
  const bool answered = changed_.wait_for(lock, answer_wait_ + milliseconds(500),
                                          [&] { return stopping_ || remote->round != round; });
  if (stopping_) return Error{ErrorCode::kShuttingDown, "the plugin is stopping"};
  if (!answered) {
    return Error{ErrorCode::kClusterUnavailable,
                 "device '" + device_id + "' is published on node '" + origin +
                     "', which did not answer this node's relay request in time"};
  }
  return remote->failure;
}

std::shared_ptr<MediaPlugin::RemoteRelays::Remote> MediaPlugin::RemoteRelays::find_relay(
    const std::string& relay_id, const std::string& from) {
  for (const auto& [id, remote] : remotes_) {
    if (!relay_id.empty() && remote->relay_id == relay_id && remote->origin == from) return remote;
  }
  return nullptr;
}

void MediaPlugin::RemoteRelays::received(const cluster::NodeMessage& message) {
  {
    std::lock_guard lock(mutex_);
    std::shared_ptr<Remote> remote;
    if (message.type == cluster::MessageType::kPublisherLeft ||
        message.type == cluster::MessageType::kPublisherJoined) {
      auto it = remotes_.find(message.device_id);
      if (it != remotes_.end() && it->second->origin == message.from_node) remote = it->second;
    } else {
      remote = find_relay(message.relay_id, message.from_node);
    }
    if (!remote) {
      log_verbose("cluster: %s from node '%s' (device %s, relay %s): no such relay here",
                  cluster::message_type_name(message.type), message.from_node.c_str(),
                  message.device_id.c_str(), message.relay_id.c_str());
      return;
    }
    switch (message.type) {
      case cluster::MessageType::kRelayAccept:
      case cluster::MessageType::kRelayRefuse:
        remote->answer = message;
        break;
      case cluster::MessageType::kRelayStop:
        remote->gone = true;
        break;
      case cluster::MessageType::kPublisherLeft:
        remote->left = true;
        remote->joined.reset();
        break;
      case cluster::MessageType::kPublisherJoined:
        remote->joined = message.media;
        break;
      case cluster::MessageType::kRelayRequest:
        return;
    }
  }
  wake_.notify_all();
}

void MediaPlugin::RemoteRelays::unanswered(const cluster::NodeMessage& request) {
  {
    std::lock_guard lock(mutex_);
    auto it = remotes_.find(request.device_id);
    if (it == remotes_.end() || it->second->relay_id != request.relay_id) return;
    it->second->unanswered = true;
  }
  wake_.notify_all();
}

void MediaPlugin::RemoteRelays::node_left(const std::string& node_id) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, remote] : remotes_) {
      if (remote->origin == node_id) remote->gone = true;
    }
  }
  wake_.notify_all();
}

void MediaPlugin::RemoteRelays::local_takes_over(const std::string& device_id) {
  {
    std::lock_guard lock(mutex_);
    auto it = remotes_.find(device_id);
    if (it == remotes_.end()) return;
    it->second->takeover = true;
  }
  wake_.notify_all();
}

RelayTotals MediaPlugin::RemoteRelays::totals() const {
  std::lock_guard lock(mutex_);
  RelayTotals sum = ended_;
  sum.relays = 0;
  for (const auto& [id, remote] : remotes_) {
    if (!remote->relay) continue;
    ++sum.relays;
    add(sum, *remote->relay);
  }
  return sum;
}

void MediaPlugin::remote_received(const cluster::NodeMessage& message) {
  if (remote_) remote_->received(message);
}

void MediaPlugin::remote_unanswered(const cluster::NodeMessage& request) {
  if (remote_) remote_->unanswered(request);
}

void MediaPlugin::remote_node_left(const std::string& node_id) {
  if (remote_) remote_->node_left(node_id);
}

RelayTotals MediaPlugin::remote_relay_totals() const {
  return remote_ ? remote_->totals() : RelayTotals{};
}

}  // namespace jmedia
