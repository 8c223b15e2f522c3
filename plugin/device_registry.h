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
#include "sharded_map.h"

namespace jmedia {

class DeviceRegistry {
 public:
  explicit DeviceRegistry(std::size_t shards) : devices_(shards) {}

  struct Claimed {
    std::shared_ptr<Device> device;
    // The media the existing viewers' offers were built from, if any: when it differs from
    // the new publisher's, those viewers need a new offer.
    std::optional<PublisherMedia> previous_media;
  };
  // Makes session the publisher of device_id, creating the device; kDeviceBusy if it has one.
  std::variant<Claimed, Error> claim_publisher(const std::string& device_id,
                                               const std::shared_ptr<MediaSession>& session,
                                               const PublisherMedia& media);
  // Adds a viewer of device_id; kNoSuchDevice without a publisher, kTooManyViewers at max.
  std::variant<std::shared_ptr<Device>, Error> add_viewer(const std::string& device_id,
                                                          const std::shared_ptr<ViewerLink>& viewer,
                                                          std::size_t max_viewers);
  // Removes session from device as publisher; the viewers then left without one.
  std::shared_ptr<const ViewerList> release_publisher(const std::shared_ptr<Device>& device,
                                                      const MediaSession* session);
  std::shared_ptr<ViewerLink> remove_viewer(const std::shared_ptr<Device>& device,
                                            const MediaSession* session);
  std::shared_ptr<Device> find(const std::string& device_id) const;

  struct Summary {
    std::string device_id;
    bool publishing;
    std::size_t viewers;
  };
  std::pair<std::vector<Summary>, bool> page(const std::string& after, std::size_t limit) const;
  std::size_t size() const { return devices_.size(); }
  void clear() { devices_.drain(); }

 private:
  using Map = std::map<std::string, std::shared_ptr<Device>>;
  // Drops the device from the map when nothing is left in it (caller holds the shard lock).
  static void drop_if_empty(Map& map, const std::shared_ptr<Device>& device);

  ShardedMap<std::string, std::shared_ptr<Device>, std::hash<std::string>, Map> devices_;
};

}  // namespace jmedia
