#include "device_notifier.h"

#include <utility>

#include "../common/abi_guard.h"

namespace jmedia {

DeviceNotifier::DeviceNotifier(Tell tell) : tell_(std::move(tell)) {
  thread_ = guarded_thread("device notifier", "jm-notifier", [this] { run(); });
}

DeviceNotifier::~DeviceNotifier() {
  stop();
}

void DeviceNotifier::notify(const std::shared_ptr<Device>& device) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || !queued_.insert(device.get()).second) return;
    queue_.push_back(device);
  }
  wake_.notify_one();
}

void DeviceNotifier::stop() {
  std::deque<std::shared_ptr<Device>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    queued_.clear();
  }
  wake_.notify_all();
  dropped.clear();  // outside the lock: the last reference to a device may go with it
  if (thread_.joinable()) thread_.join();
}

std::size_t DeviceNotifier::pending() {
  std::lock_guard lock(mutex_);
  return queue_.size() + (in_turn_ ? 1 : 0);
}

void DeviceNotifier::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<Device> device = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(device.get());  // a change from now on queues the device again
    in_turn_ = true;
    lock.unlock();
    guarded_void("device notifier: telling viewers", [&] { tell_(device); });
    device.reset();
    lock.lock();
    in_turn_ = false;
  }
}

}  // namespace jmedia
