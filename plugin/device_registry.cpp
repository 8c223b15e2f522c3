#include "device_registry.h"

namespace jmedia {

void DeviceRegistry::drop_if_empty(Map& map, const std::shared_ptr<Device>& device) {
  if (!device->empty()) return;
  auto it = map.find(device->id());
  if (it != map.end() && it->second == device) map.erase(it);
}

std::variant<std::shared_ptr<Device>, Error> DeviceRegistry::claim_publisher(
    const std::string& device_id, const std::shared_ptr<MediaSession>& session,
    const PublisherMedia& media) {
  return devices_.with_shard(device_id,
                             [&](Map& map) -> std::variant<std::shared_ptr<Device>, Error> {
                               auto& slot = map[device_id];
                               if (!slot) slot = std::make_shared<Device>(device_id);
                               if (slot->has_publisher()) {
                                 return Error{ErrorCode::kDeviceBusy,
                                              "device '" + device_id + "' has a publisher already"};
                               }
                               slot->set_publisher(session, media);
                               return slot;
                             });
}

std::variant<DeviceRegistry::Watched, Error> DeviceRegistry::add_viewer(
    const std::string& device_id, const std::shared_ptr<ViewerLink>& viewer,
    std::size_t max_viewers) {
  return devices_.with_shard(device_id, [&](Map& map) -> std::variant<Watched, Error> {
    auto it = map.find(device_id);
    if (it == map.end() || !it->second->has_publisher()) {
      return Error{ErrorCode::kNoSuchDevice, "device '" + device_id + "' is not publishing"};
    }
    if (it->second->viewer_count() >= max_viewers) {
      return Error{ErrorCode::kTooManyViewers, "device '" + device_id +
                                                   "' has max_viewers_per_device (" +
                                                   std::to_string(max_viewers) + ") viewers"};
    }
    PublisherMedia media = it->second->add_viewer(viewer);
    return Watched{it->second, std::move(media)};
  });
}

bool DeviceRegistry::release_publisher(const std::shared_ptr<Device>& device,
                                       const MediaSession* session) {
  return devices_.with_shard(device->id(), [&](Map& map) {
    if (!device->clear_publisher(session)) return false;
    const bool viewers_left = !device->viewers()->empty();
    drop_if_empty(map, device);
    return viewers_left;
  });
}

std::shared_ptr<ViewerLink> DeviceRegistry::remove_viewer(const std::shared_ptr<Device>& device,
                                                          const MediaSession* session) {
  return devices_.with_shard(device->id(), [&](Map& map) {
    auto removed = device->remove_viewer(session);
    drop_if_empty(map, device);
    return removed;
  });
}

std::shared_ptr<Device> DeviceRegistry::find(const std::string& device_id) const {
  auto found = devices_.find(device_id);
  return found ? *found : nullptr;
}

std::pair<std::vector<std::shared_ptr<Device>>, bool> DeviceRegistry::page_devices(
    const std::string& after, std::size_t limit, const KeyRanges* ranges) const {
  auto [entries, more] = ranges != nullptr ? devices_.page_in_ranges(after, limit, *ranges)
                                           : devices_.page(after, limit);
  std::vector<std::shared_ptr<Device>> devices;
  devices.reserve(entries.size());
  for (auto& entry : entries) devices.push_back(std::move(entry.second));
  return {std::move(devices), more};
}

std::pair<std::vector<DeviceRegistry::Summary>, bool> DeviceRegistry::page(
    const std::string& after, std::size_t limit, const KeyRanges* ranges) const {
  auto [devices, more] = page_devices(after, limit, ranges);
  std::vector<Summary> summaries;
  summaries.reserve(devices.size());
  for (const auto& device : devices) {
    summaries.push_back(Summary{device->id(), device->has_publisher(), device->viewer_count()});
  }
  return {std::move(summaries), more};
}

}  // namespace jmedia
