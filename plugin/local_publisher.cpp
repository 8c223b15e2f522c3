#include "local_publisher.h"

#include <utility>

namespace jmedia {

LocalPublisher::LocalPublisher(Host& host, janus_plugin_session* handle,
                               std::shared_ptr<PluginMetrics> metrics)
    : handle_(host, handle), metrics_(std::move(metrics)) {}

void LocalPublisher::request_keyframe(bool new_consumer) {
  // Consumers' own PLIs come in bursts: at most one per 100 ms reaches the publisher.
  const std::int64_t now = monotonic_ms_now();
  if (new_consumer) {
    keyframes_.requested_at(now);
  } else if (!keyframes_.due(now, 100)) {
    return;
  }
  handle_.host().send_pli(handle_.get());
  if (metrics_) metrics_->keyframe_requested();
}

}  // namespace jmedia
