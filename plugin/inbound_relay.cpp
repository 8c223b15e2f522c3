#include "inbound_relay.h"

#include <cstring>
#include <utility>

#include "device.h"

namespace jmedia {

std::shared_ptr<InboundRelay> InboundRelay::create(cluster::RelayLoop& loop,
                                                   cluster::RelayReceiverOptions options,
                                                   std::string origin_node, std::string& error) {
  std::shared_ptr<InboundRelay> relay(new InboundRelay(std::move(origin_node)));
  relay->receiver_ = cluster::RelayReceiver::create(loop, std::move(options), *relay, error);
  if (!relay->receiver_) return nullptr;
  return relay;
}

InboundRelay::~InboundRelay() {
  receiver_.reset();
}

void InboundRelay::request_keyframe(bool new_consumer) {
  // A consumer's PLI: the receiver holds them to one per keyframe_interval, the origin's
  // producer applies its own limit. A new consumer's: an FIR, which neither holds back (the
  // keyframe the origin asked for when the relay began went by before this consumer could
  // receive it). Before any video arrived there is no SSRC to name: the first video packet
  // sends a new consumer's request (a PLI can wait for the next one).
  const std::uint32_t ssrc = video_ssrc_.load(std::memory_order_acquire);
  if (ssrc != 0) {
    receiver_->request_keyframe(ssrc, new_consumer);
    return;
  }
  if (!new_consumer) return;
  full_intra_pending_.store(true, std::memory_order_release);
  // Video may have come in between: then whichever of this thread and the relay thread takes
  // the pending request back sends it.
  const std::uint32_t now_known = video_ssrc_.load(std::memory_order_acquire);
  if (now_known != 0 && full_intra_pending_.exchange(false, std::memory_order_acq_rel)) {
    receiver_->request_keyframe(now_known, true);
  }
}

void InboundRelay::bind(const std::shared_ptr<Device>& device, const PublisherMedia& media) {
  audio_pt_.store(media.audio_codec.empty() ? -1 : media.audio_payload_type,
                  std::memory_order_relaxed);
  video_pt_.store(media.video_codec.empty() ? -1 : media.video_payload_type,
                  std::memory_order_relaxed);
  std::lock_guard lock(device_mutex_);
  device_ = device;
}

void InboundRelay::on_rtp(const std::uint8_t* packet, std::size_t len) {
  if (len < 12 || len > scratch_.size()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const int pt = packet[1] & 0x7f;
  bool video = false;
  if (pt == video_pt_.load(std::memory_order_relaxed)) {
    video = true;
  } else if (pt != audio_pt_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::shared_ptr<Device> device;
  {
    std::lock_guard lock(device_mutex_);
    device = device_.lock();
  }
  if (!device) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (video) {
    const std::uint32_t ssrc = (std::uint32_t{packet[8]} << 24) | (std::uint32_t{packet[9]} << 16) |
                               (std::uint32_t{packet[10]} << 8) | std::uint32_t{packet[11]};
    video_ssrc_.store(ssrc, std::memory_order_release);
    if (full_intra_pending_.load(std::memory_order_relaxed) &&
        full_intra_pending_.exchange(false, std::memory_order_acq_rel)) {
      receiver_->request_keyframe(ssrc, true);
    }
  }
  std::memcpy(scratch_.data(), packet, len);
  janus_plugin_rtp rtp{};
  rtp.mindex = -1;
  rtp.video = video ? TRUE : FALSE;
  rtp.buffer = reinterpret_cast<char*>(scratch_.data());
  rtp.length = static_cast<std::uint16_t>(len);
  // As janus_plugin_rtp_extensions_reset: no extension (the relay carries none of them).
  rtp.extensions.audio_level = -1;
  rtp.extensions.video_rotation = -1;
  rtp.extensions.min_delay = -1;
  rtp.extensions.max_delay = -1;
  device->route_rtp(*this, rtp);
  routed_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace jmedia
