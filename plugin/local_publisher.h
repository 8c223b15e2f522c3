// A producer that is a publisher session on this node: keyframe requests from the device's
// consumers become PLIs on its Janus handle (at most one per 100 ms, unless a consumer's media
// just came up), on which it holds its own reference (HandleRef). Its media reaches the
// device from the plugin's incoming_rtp/incoming_data on the handle's loop thread.
#pragma once

#include <memory>

#include "handle_ref.h"
#include "keyframe_gate.h"
#include "plugin_metrics.h"
#include "producer.h"

namespace jmedia {

class LocalPublisher final : public Producer {
 public:
  LocalPublisher(Host& host, janus_plugin_session* handle, std::shared_ptr<PluginMetrics> metrics);

  void request_keyframe(bool new_consumer) override;
  janus_plugin_session* session_handle() const override { return handle_.get(); }

 private:
  HandleRef handle_;
  const std::shared_ptr<PluginMetrics> metrics_;
  KeyframeGate keyframes_;
};

}  // namespace jmedia
