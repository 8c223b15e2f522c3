// This node as the origin of relays (README, "Scale-out"): a device published here and
// watched from other nodes gets one OutboundRelay per such node. What comes in (relay_request,
// relay_stop, a node gone, a relay's peer silent) is queued for a thread of its own
// (jm-relay-origin): making a relay resolves the peer's address and opens a socket, which the
// inbox, directory and relay threads must never wait for; and a relay is destroyed only there
// (or in stop()), never on the relay thread. The news of the device's publisher reaches the
// relays' nodes from the plugin's notifier (tell()).
//
// Ownership: the plugin -> RelayOrigin -> each relay's entry (its device and relay); the
// device holds the relay as one of its consumers; each relay's sender calls back up here
// (OutboundRelayListener).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../cluster/cluster_config.h"
#include "../cluster/node_channel.h"
#include "../cluster/relay_loop.h"
#include "device.h"
#include "device_registry.h"
#include "outbound_relay.h"
#include "plugin_metrics.h"

namespace jmedia {

class RelayOrigin final : private OutboundRelayListener {
 public:
  // Work queued at most (a flood of requests is dropped beyond it, counted; the asker retries).
  static constexpr std::size_t kMaxQueued = 1024;

  // loop and devices outlive it; config: the cluster section (secret, advertise_host,
  // relay_ports, test_relay_drop_percent). Starts its thread.
  RelayOrigin(cluster::RelayLoop& loop, DeviceRegistry& devices, cluster::ClusterConfig config,
              cluster::RelaySenderOptions defaults = {});
  ~RelayOrigin();  // stop()
  RelayOrigin(const RelayOrigin&) = delete;
  RelayOrigin& operator=(const RelayOrigin&) = delete;

  // Where answers and news go (the directory's channel, made after this); until it is set,
  // requests are dropped unanswered (the asker resends). Any thread.
  void set_channel(cluster::NodeChannel* channel) { channel_.store(channel); }

  // The inbox thread: relay_request and relay_stop (another relay_stop, for a relay_id this
  // node does not send, is ignored). Queued: never waits.
  void received(const cluster::NodeMessage& message);
  // The directory thread: every relay to node_id ends. Queued.
  void node_left(const std::string& node_id);
  // The plugin's notifier thread: what relay's node is to hear of the device's publisher
  // (Device::take_news): publisher_left, then publisher_joined with the media the relay
  // carries from now on (OutboundRelay::announced; the relay starts again at once: its
  // "answer" is implicit). No lock of the device held.
  void tell(Device& device, OutboundRelay& relay, const ConsumerNews& news);

  RelayTotals totals() const;  // at scrape
  std::size_t relays() const;
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Waiting or being handled (tests wait for 0).
  std::size_t pending() const;

  // Joins the thread (what waits is dropped) and ends every relay. Idempotent.
  void stop();

 private:
  struct Task {
    enum class Kind { kRequest, kStop, kNodeLeft, kPeerLost, kEnd } kind;
    cluster::NodeMessage message;  // kRequest, kStop
    std::string id;                // kNodeLeft: the node; kPeerLost, kEnd: the relay_id
  };
  struct Entry {
    std::shared_ptr<Device> device;
    std::shared_ptr<OutboundRelay> relay;
    cluster::RelaySenderStats counted;  // put in closed_ when it was taken out of relays_
  };

  void relay_keyframe_requested(OutboundRelay& relay, bool full_intra) override;
  void relay_peer_lost(OutboundRelay& relay, std::chrono::milliseconds silent) override;

  // Out of relays_ (mutex_ held), its counters into closed_.
  Entry take(std::map<std::string, Entry>::iterator it);
  void queue(Task task);
  void run();
  void handle(const Task& task);
  void handle_request(const cluster::NodeMessage& request);
  void refuse(const cluster::NodeMessage& request, ErrorCode code, const std::string& reason);
  void accept(const cluster::NodeMessage& request, const OutboundRelay& relay,
              PublisherMedia media);
  // Takes the relay out of its device and closes it (the worker's or stop()'s thread, no lock
  // held); tell_peer: a relay_stop goes to its node.
  void end(const Entry& entry, bool tell_peer, const char* why);
  bool send(const std::string& node, cluster::NodeMessage message);

  cluster::RelayLoop& loop_;
  DeviceRegistry& devices_;
  const cluster::ClusterConfig config_;
  const cluster::RelaySenderOptions defaults_;
  std::atomic<cluster::NodeChannel*> channel_{nullptr};

  // Lock order: the relay thread's dispatch lock -> mutex_ -> Device::mutex_ (a keyframe
  // request) or OutboundRelay::relay_mutex_ (totals). Never held while a relay is made,
  // removed from its device or closed, nor while a message is sent.
  mutable std::mutex mutex_;
  std::map<std::string, Entry> relays_;  // by relay_id
  RelayTotals closed_;                   // the counters of the relays ended so far

  // The queue: a leaf lock.
  mutable std::mutex queue_mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  bool busy_ = false;  // a task is being handled
  bool stopping_ = false;
  std::atomic<std::uint64_t> dropped_{0};

  std::thread thread_;  // last: started once everything above is built
};

}  // namespace jmedia
