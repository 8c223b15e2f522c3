// This node as the origin of relays: a device published here, watched by viewers on other
// nodes, gets one outbound relay per such node (relay_origin.h; README, "Scale-out").
#include "relay_origin.h"

#include <optional>
#include <utility>
#include <vector>

#include "../common/abi_guard.h"
#include "../common/log.h"
#include "media_plugin.h"

namespace jmedia {
namespace {

// A producer of this node: a publisher session here (an inbound relay from another node has
// no session handle). Only those are relayed on: a relay of a relay would chain nodes.
bool local_producer(const Device& device) {
  auto producer = device.producer();
  return producer && producer->session_handle() != nullptr;
}

PublisherMedia relayed(PublisherMedia media) {
  media.data = false;  // data channels are not relayed
  return media;
}

void add(RelayTotals& totals, const cluster::RelaySenderStats& stats) {
  totals.packets += stats.packets_sent;
  totals.bytes += stats.bytes_sent;
  totals.nacked += stats.nacks_received;
  totals.retransmitted += stats.retransmitted;
}

// What a relay counted after `since` (its counters only grow).
cluster::RelaySenderStats counted_after(const cluster::RelaySenderStats& last,
                                        const cluster::RelaySenderStats& since) {
  cluster::RelaySenderStats delta;
  auto after = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
  delta.packets_sent = after(last.packets_sent, since.packets_sent);
  delta.bytes_sent = after(last.bytes_sent, since.bytes_sent);
  delta.nacks_received = after(last.nacks_received, since.nacks_received);
  delta.retransmitted = after(last.retransmitted, since.retransmitted);
  return delta;
}

}  // namespace

RelayOrigin::RelayOrigin(cluster::RelayLoop& loop, DeviceRegistry& devices,
                         cluster::ClusterConfig config, cluster::RelaySenderOptions defaults)
    : loop_(loop), devices_(devices), config_(std::move(config)), defaults_(std::move(defaults)) {
  thread_ = guarded_thread("relay origin", "jm-relay-origin", [this] { run(); });
}

RelayOrigin::~RelayOrigin() {
  stop();
}

void RelayOrigin::received(const cluster::NodeMessage& message) {
  if (message.type == cluster::MessageType::kRelayRequest) {
    queue(Task{Task::Kind::kRequest, message, {}});
  } else if (message.type == cluster::MessageType::kRelayStop) {
    queue(Task{Task::Kind::kStop, message, {}});
  }
}

void RelayOrigin::node_left(const std::string& node_id) {
  queue(Task{Task::Kind::kNodeLeft, {}, node_id});
}

RelayOrigin::Entry RelayOrigin::take(std::map<std::string, Entry>::iterator it) {
  Entry entry = std::move(it->second);
  relays_.erase(it);
  // Into the totals now, so that no scrape sees them go down while the relay ends.
  entry.counted = entry.relay->stats();
  add(closed_, entry.counted);
  return entry;
}

void RelayOrigin::relay_keyframe_requested(OutboundRelay& relay, bool full_intra) {
  // Under mutex_: the entry's device stays alive, and its last reference never goes on the
  // relay thread.
  std::lock_guard lock(mutex_);
  auto it = relays_.find(relay.relay_id());
  if (it != relays_.end() && it->second.relay.get() == &relay) {
    it->second.device->request_keyframe(full_intra);
  }
}

void RelayOrigin::relay_peer_lost(OutboundRelay& relay, std::chrono::milliseconds silent) {
  log_warn("cluster: relay %s of device %s to node '%s': no RTCP for %lld ms: ending it",
           relay.relay_id().c_str(), relay.device_id().c_str(), relay.node_id().c_str(),
           static_cast<long long>(silent.count()));
  queue(Task{Task::Kind::kPeerLost, {}, relay.relay_id()});
}

void RelayOrigin::queue(Task task) {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return;
    if (queue_.size() >= kMaxQueued) {
      // Logged at the first and every 1000th: a flood must not flood the log too.
      const std::uint64_t dropped = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (dropped % 1000 == 1) {
        log_warn("cluster: relay origin: %zu waiting, %llu relay requests or events dropped so far",
                 queue_.size(), static_cast<unsigned long long>(dropped));
      }
      return;
    }
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void RelayOrigin::run() {
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Task task = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    // One failing task (bad_alloc, a throwing call) is logged; the next one runs.
    guarded_void("relay origin task", [&] { handle(task); });
    lock.lock();
    busy_ = false;
  }
}

std::size_t RelayOrigin::pending() const {
  std::lock_guard lock(queue_mutex_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void RelayOrigin::handle(const Task& task) {
  switch (task.kind) {
    case Task::Kind::kRequest:
      handle_request(task.message);
      return;
    case Task::Kind::kStop:
    case Task::Kind::kPeerLost:
    case Task::Kind::kEnd: {
      const std::string& relay_id =
          task.kind == Task::Kind::kStop ? task.message.relay_id : task.id;
      Entry entry;
      {
        std::lock_guard lock(mutex_);
        auto it = relays_.find(relay_id);
        // A relay_stop for a relay this node does not send (the viewers' side's), or one
        // from a node that is not the relay's: not ours to end.
        if (it == relays_.end()) return;
        if (task.kind == Task::Kind::kStop && it->second.relay->node_id() != task.message.from_node)
          return;
        entry = take(it);
      }
      const char* why = task.kind == Task::Kind::kStop       ? "relay_stop from its node"
                        : task.kind == Task::Kind::kPeerLost ? "its node went silent"
                                                             : "the device's producer is not local";
      end(entry, task.kind != Task::Kind::kStop, why);
      return;
    }
    case Task::Kind::kNodeLeft: {
      std::vector<Entry> gone;
      {
        std::lock_guard lock(mutex_);
        for (auto it = relays_.begin(); it != relays_.end();) {
          if (it->second.relay->node_id() == task.id) {
            gone.push_back(take(it++));
          } else {
            ++it;
          }
        }
      }
      for (auto& entry : gone) end(entry, false, "its node left the cluster");
      return;
    }
  }
}

void RelayOrigin::handle_request(const cluster::NodeMessage& request) {
  const std::string& node = request.from_node;
  std::optional<Entry> replaced;
  {
    std::shared_ptr<OutboundRelay> resent;
    {
      std::lock_guard lock(mutex_);
      if (auto it = relays_.find(request.relay_id); it != relays_.end()) {
        if (it->second.relay->node_id() != node ||
            it->second.relay->device_id() != request.device_id) {
          log_warn("cluster: relay_request %s from node '%s' names another relay: ignored",
                   request.relay_id.c_str(), node.c_str());
          return;
        }
        resent = it->second.relay;
      } else {
        // A new relay_id from the same node for the same device replaces that node's relay.
        for (auto other = relays_.begin(); other != relays_.end(); ++other) {
          if (other->second.relay->node_id() == node &&
              other->second.relay->device_id() == request.device_id) {
            replaced = take(other);
            break;
          }
        }
      }
    }
    if (resent) {
      // A resend (our accept was lost, or crossed it): the same answer, nothing new.
      accept(request, *resent, resent->announced());
      return;
    }
  }
  if (replaced) end(*replaced, false, "its node asked for a new one");

  auto device = devices_.find(request.device_id);
  if (!device || !local_producer(*device)) {
    refuse(request, ErrorCode::kNoSuchDevice,
           "device '" + request.device_id + "' is not published on this node");
    return;
  }
  if (config_.advertise_host.empty()) {
    refuse(request, ErrorCode::kClusterUnavailable,
           "node has no cluster.advertise_host: it cannot relay");
    return;
  }
  cluster::Endpoint peer_endpoint;
  cluster::RelaySenderOptions options = defaults_;
  std::string error;
  if (!cluster::parse_endpoint(request.address, peer_endpoint) || peer_endpoint.unix_socket() ||
      !cluster::RelayAddress::resolve(peer_endpoint.host, peer_endpoint.port, options.peer,
                                      error)) {
    refuse(request, ErrorCode::kInvalidField,
           "relay address '" + request.address + "' cannot be used" +
               (error.empty() ? std::string() : ": " + error));
    return;
  }
  options.relay_id = request.relay_id;
  options.secret = config_.secret;
  options.socket.host = config_.advertise_host;
  options.socket.port_min = config_.relay_port_min;
  options.socket.port_max = config_.relay_port_max;
  options.socket.test_drop_percent = static_cast<unsigned>(config_.test_relay_drop_percent);
  auto relay =
      OutboundRelay::create(loop_, std::move(options), node, request.device_id, *this, error);
  if (!relay) {
    log_warn("cluster: relay %s of device %s to node '%s' cannot be made: %s",
             request.relay_id.c_str(), request.device_id.c_str(), node.c_str(), error.c_str());
    refuse(request, ErrorCode::kClusterUnavailable, "the origin cannot open a relay: " + error);
    return;
  }
  auto added = devices_.add_relay(request.device_id, relay);
  if (auto* refused = std::get_if<Error>(&added)) {
    relay->close();  // never in a device: nothing else holds it
    refuse(request, refused->code, refused->reason);
    return;
  }
  auto& watched = std::get<DeviceRegistry::Watched>(added);
  {
    std::lock_guard lock(mutex_);
    relays_[request.relay_id] = Entry{watched.device, relay};
  }
  watched.device->start_consumer(*relay);
  watched.device->request_keyframe(true);  // the other node's viewers decode nothing before
  log_info("cluster: relay %s: device %s to node '%s' at %s, from port %d",
           request.relay_id.c_str(), request.device_id.c_str(), node.c_str(),
           request.address.c_str(), relay->local_port());
  accept(request, *relay, relay->announced());
}

void RelayOrigin::refuse(const cluster::NodeMessage& request, ErrorCode code,
                         const std::string& reason) {
  cluster::NodeMessage answer;
  answer.type = cluster::MessageType::kRelayRefuse;
  answer.device_id = request.device_id;
  answer.relay_id = request.relay_id;
  answer.code = static_cast<int>(code);
  answer.reason = reason.substr(0, cluster::kMaxReasonBytes);
  send(request.from_node, std::move(answer));
}

void RelayOrigin::accept(const cluster::NodeMessage& request, const OutboundRelay& relay,
                         PublisherMedia media) {
  cluster::NodeMessage answer;
  answer.type = cluster::MessageType::kRelayAccept;
  answer.device_id = request.device_id;
  answer.relay_id = request.relay_id;
  answer.address = cluster::Endpoint{config_.advertise_host, relay.local_port()}.text();
  answer.media = media_to_json(relayed(std::move(media)));
  send(request.from_node, std::move(answer));
}

bool RelayOrigin::send(const std::string& node, cluster::NodeMessage message) {
  cluster::NodeChannel* channel = channel_.load();
  if (channel == nullptr) return false;
  const cluster::MessageType type = message.type;
  const std::string device_id = message.device_id;
  if (channel->send(node, std::move(message))) return true;
  log_warn("cluster: %s of device %s to node '%s' not sent", cluster::message_type_name(type),
           device_id.c_str(), node.c_str());
  return false;
}

void RelayOrigin::end(const Entry& entry, bool tell_peer, const char* why) {
  OutboundRelay& relay = *entry.relay;
  relay.stop();
  devices_.remove_consumer(entry.device, &relay);
  const cluster::RelaySenderStats last = relay.close();
  {
    std::lock_guard lock(mutex_);
    add(closed_, counted_after(last, entry.counted));
  }
  log_info("cluster: relay %s of device %s to node '%s' ended: %s", relay.relay_id().c_str(),
           relay.device_id().c_str(), relay.node_id().c_str(), why);
  if (tell_peer) {
    cluster::NodeMessage stop;
    stop.type = cluster::MessageType::kRelayStop;
    stop.device_id = relay.device_id();
    stop.relay_id = relay.relay_id();
    send(relay.node_id(), std::move(stop));
  }
}

void RelayOrigin::tell(Device& device, OutboundRelay& relay, const ConsumerNews& news) {
  if (news.producer_left) {
    cluster::NodeMessage left;
    left.type = cluster::MessageType::kPublisherLeft;
    left.device_id = device.id();
    send(relay.node_id(), std::move(left));
  }
  if (news.joined == ConsumerNews::Joined::kNone) return;
  if (!local_producer(device)) {
    // Another node's media came in here (an inbound relay): not relayed on. Its node is told
    // the relay ends, and asks the device's new holder itself.
    queue(Task{Task::Kind::kEnd, {}, relay.relay_id()});
    return;
  }
  cluster::NodeMessage joined;
  joined.type = cluster::MessageType::kPublisherJoined;
  joined.device_id = device.id();
  // What the relay carries: the new media after a new offer (take_news gave it), or, with
  // the same codecs, the payload types it announced before.
  joined.media = media_to_json(relayed(relay.announced()));
  send(relay.node_id(), std::move(joined));
  // The relay's answer is implicit: it carries the new media at once.
  device.start_consumer(relay);
  device.request_keyframe(true);
}

RelayTotals RelayOrigin::totals() const {
  std::lock_guard lock(mutex_);
  RelayTotals totals = closed_;
  totals.relays = relays_.size();
  totals.dropped = dropped();
  for (const auto& [id, entry] : relays_) add(totals, entry.relay->stats());
  return totals;
}

std::size_t RelayOrigin::relays() const {
  std::lock_guard lock(mutex_);
  return relays_.size();
}

void RelayOrigin::stop() {
  std::deque<Task> dropped;
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<Entry> all;
  {
    std::lock_guard lock(mutex_);
    while (!relays_.empty()) all.push_back(take(relays_.begin()));
  }
  for (auto& entry : all) end(entry, false, "the plugin stops");
}

// The plugin's side (ClusterLink calls these on the inbox's and the directory's threads).

void MediaPlugin::origin_received(const cluster::NodeMessage& message) {
  if (origin_) origin_->received(message);
}

void MediaPlugin::origin_node_left(const std::string& node_id) {
  if (origin_) origin_->node_left(node_id);
}

RelayTotals MediaPlugin::origin_relay_totals() const {
  return origin_ ? origin_->totals() : RelayTotals{};
}

}  // namespace jmedia
