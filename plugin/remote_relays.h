// This node's viewers of devices published on other nodes (README, "Scale-out"): one remote
// device per device_id, a Device in this node's registry whose producer is an InboundRelay
// from the node that holds it (its origin), whatever the number of viewers here.
//
// Threads: workers (watch) ask for a remote device and wait for it with a bound; the inbox
// and directory threads (ClusterLink) only record what arrived and wake the remote thread
// (jm-remote), which does everything else: makes and destroys the relays (never the relay
// thread, never a thread of Janus), asks the origin for them, applies accepts (address
// resolution, the device's producer), the publisher's news, a node gone, silence, the linger
// after the last viewer, and looks for a device again (the directory's last view, no Redis
// call) when it has viewers and no producer.
//
// Lock order: mutex_ is a leaf. Nothing of the registry, the devices, the directory or the
// channel is called with it held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "errors.h"
#include "inbound_relay.h"
#include "media_plugin.h"

namespace jmedia {

class MediaPlugin::RemoteRelays {
 public:
  using Clock = std::chrono::steady_clock;
  // Remote devices at most (being set up or up): a flood of watches of other nodes' devices
  // is refused (1022) beyond it instead of binding a relay port each.
  static constexpr std::size_t kMaxRemoteDevices = 1024;

  explicit RemoteRelays(MediaPlugin& plugin);
  ~RemoteRelays();  // stop()
  RemoteRelays(const RemoteRelays&) = delete;
  RemoteRelays& operator=(const RemoteRelays&) = delete;

  // A watch on a worker: device_id is held by node origin. Waits (bounded) until this node's
  // remote device of it is up (nullopt: add the viewer to the registry's device again; hold
  // keeps the device from lingering out meanwhile) or failed (the origin's refuse, 1022).
  std::optional<Error> wait_ready(const std::string& device_id, const std::string& origin,
                                  std::shared_ptr<void>& hold);

  // The inbox's and the directory's threads: recorded, never waited on.
  void received(const cluster::NodeMessage& message);
  void unanswered(const cluster::NodeMessage& request);
  void node_left(const std::string& node_id);

  // A local publish of device_id takes over: its remote device's relay ends (worker).
  void local_takes_over(const std::string& device_id);
  RelayTotals totals() const;
  // Stops the thread; each relay gets its relay_stop and is destroyed. Idempotent.
  void stop();

 private:
  enum class State {
    kWanted,     // to ask `origin` for a relay
    kRequested,  // asked; waiting for relay_accept / relay_refuse / unanswered
    kReady,      // the relay is the device's producer
    kLeft,       // the origin's publisher left: relay kept, device without producer
    kLost,       // no relay (origin gone or silent): viewers wait, the device is looked for
  };
  // Written by the remote thread only, under mutex_ (others read them under it): origin,
  // state, relay_id, relay, device, done. The remote thread reads them without it.
  struct Remote {
    std::string device_id;
    std::string origin;
    State state = State::kWanted;
    std::string relay_id;
    // The remote thread's (read by others under mutex_ as pointers only).
    std::shared_ptr<InboundRelay> relay;
    std::shared_ptr<Device> device;
    // Recorded by the inbox / directory threads, taken by the remote thread.
    std::optional<cluster::NodeMessage> answer;  // relay_accept or relay_refuse
    bool unanswered = false;
    bool left = false;
    std::optional<std::string> joined;  // publisher_joined's media ("" for none)
    bool gone = false;                  // node_left, relay_stop from the origin
    bool takeover = false;              // a local publisher takes the device
    std::optional<std::string> want;    // a watch found the device on this node (kLost)
    bool done = false;                  // ended: erased once no watch waits on it
    // Outcome for waiting workers.
    std::optional<Error> failure;
    std::uint64_t round = 0;  // bumped at every outcome
    int waiters = 0;
    Clock::time_point since{};       // entered the current state
    Clock::time_point idle_since{};  // no viewer since (epoch: some)
    Clock::time_point next_look{};   // kLost: the next look at the directory's view
  };
  void run();
  void pass(Clock::time_point now);
  // Each returns whether the remote is done (to be erased).
  bool step(const std::shared_ptr<Remote>& remote, Clock::time_point now);
  bool ask(Remote& remote, Clock::time_point now);
  bool apply_accept(Remote& remote, const cluster::NodeMessage& accept, Clock::time_point now);
  // Ends the relay (relay_stop to the origin), the device's producer when it is this relay's.
  void end_relay(Remote& remote);
  void set_state(Remote& remote, State state, Clock::time_point now);
  void fail(Remote& remote, Error error);
  // Who holds device_id in the directory's last view ("" nobody; nullopt: no view).
  std::optional<std::string> holder_in_view(const std::string& device_id) const;
  std::shared_ptr<Remote> find_relay(const std::string& relay_id, const std::string& from);

  MediaPlugin& plugin_;
  const std::chrono::milliseconds linger_;
  const std::chrono::milliseconds silence_;
  const std::chrono::milliseconds answer_wait_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;                            // the remote thread
  std::condition_variable changed_;                         // waiting workers
  std::map<std::string, std::shared_ptr<Remote>> remotes_;  // by device_id
  bool stopping_ = false;
  // Counters of relays gone, for the totals.
  RelayTotals ended_{};
  std::thread thread_;  // last
};

}  // namespace jmedia
