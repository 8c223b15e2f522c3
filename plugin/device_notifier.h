// Tells viewers about their device's publisher (it left, a new one joined, it renegotiated) on
// a thread of its own. The fan-out is up to max_viewers_per_device events, JSEP offers among
// them: pushed from the publisher's loop thread it delayed the publisher's media, and from a
// worker every session hashed to that worker. A device waits in the queue at most once: its
// changes coalesce while it waits, and what each viewer is told is read from the device when
// its turn comes (Device::take_news), so the queue holds at most one entry per device alive.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "device.h"

namespace jmedia {

class DeviceNotifier {
 public:
  // Runs on the notifier thread, once per turn of a device, behind the exception barrier.
  using Tell = std::function<void(const std::shared_ptr<Device>&)>;

  explicit DeviceNotifier(Tell tell);
  ~DeviceNotifier();  // stop()
  DeviceNotifier(const DeviceNotifier&) = delete;
  DeviceNotifier& operator=(const DeviceNotifier&) = delete;

  // Queues device for a turn unless it waits already. Any thread; a short lock of its own,
  // taken with none or any of the locks of device.h's order held. Nothing after stop().
  void notify(const std::shared_ptr<Device>& device);
  // Drops what waits and joins the thread (after the turn in progress). Idempotent.
  void stop();
  // Devices waiting or being told now; 0 also means the notifier holds no device any more.
  std::size_t pending();

 private:
  void run();

  const Tell tell_;
  std::mutex mutex_;  // guards the members below
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Device>> queue_;
  std::unordered_set<const Device*> queued_;
  bool in_turn_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jmedia
