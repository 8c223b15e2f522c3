#include "device_registry.h"

namespace jmedia {

void DeviceRegistry::drop_if_empty(Map& map, const std::shared_ptr<Device>& device) {
  if (!device->empty()) return;
  auto it = map.find(device->id());
  if (it != map.end() && it->second == device) map.erase(it);
}

std::variant<std::shared_ptr<Device>, Error> DeviceRegistry::claim_producer(
    const std::string& device_id, const std::shared_ptr<Producer>& producer,
    const PublisherMedia& media) {
  return devices_.with_shard(device_id,
                             [&](Map& map) -> std::variant<std::shared_ptr<Device>, Error> {
                               auto& slot = map[device_id];
                               if (!slot) slot = std::make_shared<Device>(device_id, listener_);
                               if (slot->has_producer()) {
                                 return Error{ErrorCode::kDeviceBusy,
                                              "device '" + device_id + "' has a publisher already"};
                               }
                               slot->set_producer(producer, media);
                               return slot;
                             });
}

std::variant<DeviceRegistry::Watched, Error> DeviceRegistry::add_relay(
    const std::string& device_id, const std::shared_ptr<Consumer>& relay) {
  return devices_.with_shard(device_id, [&](Map& map) -> std::variant<Watched, Error> {
    auto it = map.find(device_id);
    auto producer = it == map.end() ? nullptr : it->second->producer();
    if (!producer || producer->session_handle() == nullptr) {
      return Error{ErrorCode::kNoSuchDevice,
                   "device '" + device_id + "' is not published on this node"};
    }
    PublisherMedia media = it->second->add_consumer(relay);
    return Watched{it->second, std::move(media)};
  });
}

std::variant<DeviceRegistry::Watched, Error> DeviceRegistry::add_consumer(
    const std::string& device_id, const std::shared_ptr<Consumer>& consumer,
    std::size_t max_consumers) {
  return devices_.with_shard(device_id, [&](Map& map) -> std::variant<Watched, Error> {
    auto it = map.find(device_id);
    if (it == map.end() || !it->second->has_producer()) {
      return Error{ErrorCode::kNoSuchDevice, "device '" + device_id + "' is not publishing"};
    }
    if (it->second->viewer_count() >= max_consumers) {
      return Error{ErrorCode::kTooManyViewers, "device '" + device_id +
                                                   "' has max_viewers_per_device (" +
                                                   std::to_string(max_consumers) + ") viewers"};
    }
    PublisherMedia media = it->second->add_consumer(consumer);
    return Watched{it->second, std::move(media)};
  });
}

bool DeviceRegistry::release_producer(const std::shared_ptr<Device>& device,
                                      const Producer* producer) {
  return devices_.with_shard(device->id(), [&](Map& map) {
    if (!device->clear_producer(producer)) return false;
    drop_if_empty(map, device);
    return true;
  });
}

bool DeviceRegistry::release_idle_producer(const std::shared_ptr<Device>& device,
                                           const Producer* producer) {
  return devices_.with_shard(device->id(), [&](Map& map) {
    if (device->consumer_count() != 0 || !device->clear_producer(producer)) return false;
    drop_if_empty(map, device);
    return true;
  });
}

std::shared_ptr<Consumer> DeviceRegistry::remove_consumer(const std::shared_ptr<Device>& device,
                                                          const Consumer* consumer) {
  return devices_.with_shard(device->id(), [&](Map& map) {
    auto removed = device->remove_consumer(consumer);
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
    const auto producer = device->producer();
    const std::string* node = producer ? producer->origin_node() : nullptr;
    summaries.push_back(Summary{device->id(), producer != nullptr, device->viewer_count(),
                                node != nullptr ? *node : std::string()});
  }
  return {std::move(summaries), more};
}

}  // namespace jmedia
