#include "runtime.h"

#include <algorithm>
#include <atomic>
#include <mutex>

namespace jmedia::runtime {
namespace {

struct Source {
  const prometheus::Collectable* key;
  std::weak_ptr<prometheus::Collectable> source;
};

// Function-local statics that are never destroyed: no destruction-order problem at exit.
struct Sources {
  std::mutex mutex;
  std::vector<Source> list;
};
Sources& sources() {
  static auto* const instance = new Sources();
  return *instance;
}

std::atomic<bool> draining{false};
std::atomic<bool> accepting{true};

}  // namespace

prometheus::Registry& registry() {
  static auto* const instance = new prometheus::Registry();
  return *instance;
}

void add_collectable(const std::shared_ptr<prometheus::Collectable>& source) {
  if (!source) return;
  Sources& s = sources();
  std::lock_guard lock(s.mutex);
  // Expired entries belong to owners that forgot to remove them: drop them here.
  std::erase_if(s.list, [](const Source& entry) { return entry.source.expired(); });
  s.list.push_back({source.get(), source});
}

void remove_collectable(const prometheus::Collectable* source) noexcept {
  Sources& s = sources();
  std::lock_guard lock(s.mutex);
  std::erase_if(s.list, [source](const Source& entry) {
    return entry.key == source || entry.source.expired();
  });
}

std::vector<prometheus::MetricFamily> collect() {
  std::vector<std::shared_ptr<prometheus::Collectable>> live;
  {
    Sources& s = sources();
    std::lock_guard lock(s.mutex);
    live.reserve(s.list.size());
    for (const auto& entry : s.list) {
      if (auto locked = entry.source.lock()) live.push_back(std::move(locked));
    }
  }
  std::vector<prometheus::MetricFamily> families = registry().Collect();
  for (const auto& source : live) {
    auto more = source->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return families;
}

void set_plugin_draining(bool value) noexcept {
  draining.store(value, std::memory_order_release);
}
bool plugin_draining() noexcept {
  return draining.load(std::memory_order_acquire);
}
void set_core_accepting(bool value) noexcept {
  accepting.store(value, std::memory_order_release);
}
bool core_accepting() noexcept {
  return accepting.load(std::memory_order_acquire);
}

}  // namespace jmedia::runtime
