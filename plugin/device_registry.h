// Every device with a publisher or viewers, sharded by device_id and ordered within each
// shard for stable cursor paging. A device's publisher/viewer membership changes under its
// shard's lock, so "claim if free", "join if published" and "drop when empty" are atomic.
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
  explicit DeviceRegistry(std::size_t shards) : devices_(shards) {}

  // Makes session the publisher of device_id, creating the device; kDeviceBusy if it has one.
  // Viewers already there are told by Device::take_news (the plugin's notifier).
  std::variant<std::shared_ptr<Device>, Error> claim_publisher(
      const std::string& device_id, const std::shared_ptr<MediaSession>& session,
      const PublisherMedia& media);
  struct Watched {
    std::shared_ptr<Device> device;
    PublisherMedia media;  // the publisher's, which the viewer's offer is built from
  };
  // Adds a viewer of device_id; kNoSuchDevice without a publisher, kTooManyViewers at max.
  std::variant<Watched, Error> add_viewer(const std::string& device_id,
                                          const std::shared_ptr<ViewerLink>& viewer,
                                          std::size_t max_viewers);
  // Removes session from device as publisher; true when it was, and viewers are left to
  // be told (Device::take_news).
  bool release_publisher(const std::shared_ptr<Device>& device, const MediaSession* session);
  std::shared_ptr<ViewerLink> remove_viewer(const std::shared_ptr<Device>& device,
                                            const MediaSession* session);
  std::shared_ptr<Device> find(const std::string& device_id) const;

  struct Summary {
    std::string device_id;
    bool publishing;
    std::size_t viewers;
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

  ShardedMap<std::string, std::shared_ptr<Device>, std::hash<std::string>, Map> devices_;
};

}  // namespace jmedia
