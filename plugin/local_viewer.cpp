#include "local_viewer.h"

namespace jmedia {

// 20 ms of Opus at 48 kHz; one frame of 30 fps video at 90 kHz.
LocalViewer::LocalViewer(Host& host, janus_plugin_session* handle)
    : handle_(host, handle), audio_(random_ssrc(), 960), video_(random_ssrc(), 3000) {}

void LocalViewer::send_rtp(janus_plugin_rtp& packet) {
  packet.mindex = -1;  // the viewer's first m-line of this kind
  {
    std::lock_guard lock(relay_mutex_);
    (packet.video ? video_ : audio_).rewrite(packet.buffer, packet.length);
    handle_.host().relay_rtp(handle_.get(), &packet);
  }
  count_out(packet.length);
}

void LocalViewer::send_data(janus_plugin_data& packet) {
  handle_.host().relay_data(handle_.get(), &packet);
  count_out(packet.length);
}

void LocalViewer::use_media(const PublisherMedia& media) {
  std::lock_guard lock(relay_mutex_);
  audio_.set_payload_type(media.audio_payload_type);
  video_.set_payload_type(media.video_payload_type);
}

}  // namespace jmedia
