// A device is the router of one device_id's media: at most one producer (today a local
// publisher, LocalPublisher; an inbound relay from another node is another kind) and any
// number of consumers (local viewers, LocalViewer; outbound relays to other nodes), each a
// small object the device holds a reference to. Media flows producer -> device -> each
// started consumer (route_rtp, route_data); keyframe requests flow back consumer -> device ->
// producer (request_keyframe): neither side knows what kind the other is. Nothing here holds
// a session: a local producer or consumer holds its own reference on its Janus handle, and
// changes the consumers are to hear of go up to the device's listener (the plugin, whose
// notifier tells them). Ownership flows one way: DeviceRegistry -> Device -> producer and
// consumers; a session holds its device and its own producer or consumer, never the reverse.
//
// Membership changes (publish, watch, leave) lock the device. The media path reads the
// consumer list as a copy-on-write snapshot: it holds the device's snapshot lock only to copy
// one shared_ptr, while writers build the next list outside it and swap it in, so consumers
// joining or leaving never stall forwarding, and devices never contend with each other. A
// consumer removed while a snapshot still lists it gets the packets of that snapshot (its
// handle reference keeps that safe), and none after.
// (Not std::atomic<std::shared_ptr>: GCC 12's lock-bit implementation of it is invisible to
// ThreadSanitizer, which then reports races that are not there.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "consumer.h"
#include "producer.h"
#include "publisher_media.h"

namespace jmedia {

using ConsumerList = std::vector<std::shared_ptr<Consumer>>;

// What one consumer has not been told yet about its device's producer (Device::take_news).
struct ConsumerNews {
  enum class Joined { kNone, kSameCodecs, kNewOffer };
  std::shared_ptr<Consumer> consumer;
  bool producer_left = false;     // the producer it knew has gone: first
  Joined joined = Joined::kNone;  // then the one there now: same codecs, or an offer to answer
};
struct DeviceNews {
  PublisherMedia media;  // the producer's now; what kNewOffer offers
  std::vector<ConsumerNews> consumers;
};

class Device;

// What a device tells its owner.
class DeviceListener {
 public:
  virtual ~DeviceListener() = default;
  // The producer left, another came or it changed codecs, and consumers are there to be told:
  // take_news() has news for them. Called with no lock of the device held, possibly with the
  // registry's shard lock: may take only leaf locks (the plugin queues the device on its
  // notifier).
  virtual void device_has_news(const std::shared_ptr<Device>& device) = 0;
};

class Device : public std::enable_shared_from_this<Device> {
 public:
  // listener: null for a device nobody is to hear from (tests); otherwise it outlives the
  // device, and the device is owned by a shared_ptr (the listener is given one).
  explicit Device(std::string id, DeviceListener* listener = nullptr)
      : id_(std::move(id)), listener_(listener) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  const std::string& id() const { return id_; }
  // Its per-device metric series (PluginMetrics::device_slot), -1 = "other".
  int series_slot() const { return series_slot_.load(std::memory_order_relaxed); }
  void set_series_slot(int slot) { series_slot_.store(slot, std::memory_order_relaxed); }

  // Media path, on the thread that receives from. Packets of a producer that is not this
  // device's (the one a hand-over just replaced) stop here: one atomic load. Every started
  // consumer that wants the kind gets the packet, restored to what came in before the next
  // one (and before return). Returns how many got it: the caller counts shared metrics once
  // per packet, not per copy.
  std::size_t route_rtp(const Producer& from, janus_plugin_rtp& packet) const;
  std::size_t route_data(const Producer& from, janus_plugin_data& packet) const;
  // A consumer asks the producer for a keyframe (see Producer::request_keyframe); nothing
  // when there is none. Any thread; the device's mutex for a pointer copy.
  void request_keyframe(bool new_consumer) const;
  // The snapshot: the snapshot lock is held just to copy the list's pointer.
  std::shared_ptr<const ConsumerList> consumers() const {
    std::lock_guard lock(snapshot_mutex_);
    return consumers_;
  }
  std::size_t consumer_count() const { return consumers()->size(); }
  // The consumers that are viewer sessions of this node (a relay to another node has no
  // session handle): what max_viewers_per_device, listings and viewer metrics count.
  std::size_t viewer_count() const;

  // Membership: the caller holds the registry's shard lock (see DeviceRegistry).
  bool has_producer() const;
  std::shared_ptr<Producer> producer() const;
  // The media of the producer, or of the last one while there is none.
  std::optional<PublisherMedia> media() const;
  // A new producer. Consumers whose offer has other codecs get no more media until they
  // answered the offer take_news gives them. The listener hears of it when consumers are here.
  void set_producer(std::shared_ptr<Producer> producer, PublisherMedia media);
  // The producer renegotiated (false, and nothing changes, when it is not this device's);
  // consumers whose offer has other codecs stop as in set_producer. The listener hears of it
  // when consumers are here.
  bool update_media(const Producer* producer, PublisherMedia media);
  // Clears the producer if it is this one; true when it was. The listener hears of it when
  // consumers are left.
  bool clear_producer(const Producer* producer);
  // Adds a consumer (not started), told of the producer there now; returns the media to
  // offer it.
  PublisherMedia add_consumer(std::shared_ptr<Consumer> consumer);
  // The consumer answered: media flows to it, unless the producer's codecs changed since its
  // offer (then this answered an older one; the new offer is on its way).
  void start_consumer(Consumer& consumer);
  std::shared_ptr<Consumer> remove_consumer(const Consumer* consumer);
  bool empty() const;

  // What the consumers have not been told yet about the producer's changes since they were
  // last told, coalesced (the producer they knew left; the one there now, its codecs the same
  // as their offer's or not), now counted as told. A consumer getting a new offer stops
  // receiving until it answers, and receives the media of the new offer.
  DeviceNews take_news();

 private:
  const std::string id_;
  DeviceListener* const listener_;
  std::atomic<int> series_slot_{-1};
  // Lock order: a thread holding a lock of this list takes only locks further down it.
  //   MediaSession::transition_mutex_
  //   -> a ShardedMap shard lock (DeviceRegistry's or SessionTable's)
  //   -> Device::mutex_
  //   -> Device::snapshot_mutex_, LocalViewer::relay_mutex_ or DeviceNotifier::mutex_
  //      (leaves: none of ours is taken inside them)
  // The media path takes only the snapshot lock and a consumer's relay lock, one at a time.
  // The listener is called after Device::mutex_ is released.
  mutable std::mutex mutex_;
  std::shared_ptr<Producer> producer_;
  std::uint64_t producers_ = 0;  // producers so far: the number of the current one
  std::optional<PublisherMedia> media_;
  std::atomic<const Producer*> producer_raw_{nullptr};
  mutable std::mutex snapshot_mutex_;  // guards the consumers_ pointer only
  std::shared_ptr<const ConsumerList> consumers_{std::make_shared<const ConsumerList>()};
  void publish_consumers(std::shared_ptr<const ConsumerList> next);
  void stop_consumers_with_other_codecs(const PublisherMedia& media) const;  // mutex_ held
  void tell_listener_if_consumers();                                         // mutex_ not held
};

}  // namespace jmedia
