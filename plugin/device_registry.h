// Every device with a producer or consumers, sharded by device_id and ordered within each
// shard for stable cursor paging. A device's producer/consumer membership changes under its
// shard's lock, so "claim if free", "join if published" and "drop when empty" are atomic.
// The registry owns the devices (a session holds the one it publishes or watches).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "device.h"
#include "errors.h"
#include "key_range.h"
#include "sharded_map.h"

namespace jmedia {

class DeviceRegistry {
 public:
  // listener: what every device created here tells of its changes (outlives the registry's
  // devices); null: nobody.
  explicit DeviceRegistry(std::size_t shards, DeviceListener* listener = nullptr)
      : listener_(listener), devices_(shards) {}

  // Makes producer the producer of device_id, creating the device; kDeviceBusy if it has one.
  // Consumers already there hear of it through the device's listener (Device::take_news).
  std::variant<std::shared_ptr<Device>, Error> claim_producer(
      const std::string& device_id, const std::shared_ptr<Producer>& producer,
      const PublisherMedia& media);
  struct Watched {
    std::shared_ptr<Device> device;
    PublisherMedia media;  // the producer's, which the consumer's offer is built from
  };
  // Adds a consumer of device_id; kNoSuchDevice without a producer, kTooManyViewers when
  // max_consumers local viewers are there (relays to other nodes take no viewer slot).
  std::variant<Watched, Error> add_consumer(const std::string& device_id,
                                            const std::shared_ptr<Consumer>& consumer,
                                            std::size_t max_consumers);
  // Adds an outbound relay to another node (OutboundRelay) to device_id: kNoSuchDevice
  // unless its producer is a publisher of this node (one with a session handle); no viewer
  // limit (one relay per node and device, which the origin side keeps to).
  std::variant<Watched, Error> add_relay(const std::string& device_id,
                                         const std::shared_ptr<Consumer>& relay);
  // Removes producer from device; true when it was its producer (consumers left hear of it
  // through the device's listener). Drops the device when nothing is left in it.
  bool release_producer(const std::shared_ptr<Device>& device, const Producer* producer);
  // release_producer only while device has no consumer (checked under the same shard lock as
  // add_consumer: a viewer joining meanwhile keeps it); true when it was released.
  bool release_idle_producer(const std::shared_ptr<Device>& device, const Producer* producer);
  std::shared_ptr<Consumer> remove_consumer(const std::shared_ptr<Device>& device,
                                            const Consumer* consumer);
  std::shared_ptr<Device> find(const std::string& device_id) const;

  struct Summary {
    std::string device_id;
    bool publishing;
    std::size_t viewers;
    std::string node_id;  // the producer's node when it is another one's (a relayed device)
  };
  // Up to limit devices after `after` ("" = from the start) in device_id order, plus whether
  // more follow; with ranges, only the devices whose id lies in them (what a token covers),
  // found by seeking each range in each shard: devices outside them are never read.
  std::pair<std::vector<Summary>, bool> page(const std::string& after, std::size_t limit,
                                             const KeyRanges* ranges = nullptr) const;
  std::pair<std::vector<std::shared_ptr<Device>>, bool> page_devices(
      const std::string& after, std::size_t limit, const KeyRanges* ranges = nullptr) const;
  std::size_t size() const { return devices_.size(); }
  void clear() { devices_.drain(); }

 private:
  using Map = std::map<std::string, std::shared_ptr<Device>>;
  // Drops the device from the map when nothing is left in it (caller holds the shard lock).
  static void drop_if_empty(Map& map, const std::shared_ptr<Device>& device);

  DeviceListener* const listener_;
  ShardedMap<std::string, std::shared_ptr<Device>, std::hash<std::string>, Map> devices_;
};

}  // namespace jmedia
