#include "outbound_relay.h"

#include <cstring>
#include <utility>

namespace jmedia {

OutboundRelay::OutboundRelay(std::string relay_id, std::string node_id, std::string device_id,
                             OutboundRelayListener& listener)
    : relay_id_(std::move(relay_id)),
      node_id_(std::move(node_id)),
      device_id_(std::move(device_id)),
      listener_(listener),
      // 20 ms of Opus at 48 kHz; one frame of 30 fps video at 90 kHz (as LocalViewer).
      audio_(random_ssrc(), 960),
      video_(random_ssrc(), 3000) {}

std::shared_ptr<OutboundRelay> OutboundRelay::create(cluster::RelayLoop& loop,
                                                     cluster::RelaySenderOptions options,
                                                     std::string node_id, std::string device_id,
                                                     OutboundRelayListener& listener,
                                                     std::string& error) {
  std::shared_ptr<OutboundRelay> relay(
      new OutboundRelay(options.relay_id, std::move(node_id), std::move(device_id), listener));
  // Data channels are not relayed; the kinds the media has are set by use_media.
  relay->set_kinds(MediaFlags{true, true, false});
  auto sender = cluster::RelaySender::create(loop, std::move(options), *relay, error);
  if (!sender) return nullptr;
  relay->local_port_ = sender->local().port();
  std::lock_guard lock(relay->relay_mutex_);
  relay->sender_ = std::move(sender);
  return relay;
}

OutboundRelay::~OutboundRelay() {
  close();
}

void OutboundRelay::send_rtp(janus_plugin_rtp& packet) {
  std::lock_guard lock(relay_mutex_);
  if (!sender_) return;
  if (!(packet.video ? video_ : audio_).rewrite(packet.buffer, packet.length)) return;
  if (sender_->send_rtp(reinterpret_cast<const std::uint8_t*>(packet.buffer), packet.length)) {
    count_out(packet.length);
  }
}

void OutboundRelay::send_sender_reports(const char* rtcp, std::size_t length) {
  if (!started()) return;
  constexpr std::size_t kSenderInfo = 28;  // header, SSRC, NTP time, RTP time, counts
  for (std::size_t at = 0; at + 4 <= length;) {
    const auto* header = reinterpret_cast<const unsigned char*>(rtcp + at);
    const std::size_t size = 4 * (((std::size_t{header[2]} << 8) | header[3]) + 1);
    if (at + size > length) return;
    if (header[1] == 200 && size >= kSenderInfo) {
      char report[kSenderInfo];
      std::memcpy(report, rtcp + at, kSenderInfo);
      report[0] = static_cast<char>(0x80);  // no report blocks
      report[2] = 0;
      report[3] = 6;
      std::lock_guard lock(relay_mutex_);
      if (sender_ && (audio_.rewrite_sender_report(report, kSenderInfo) ||
                      video_.rewrite_sender_report(report, kSenderInfo))) {
        sender_->send_rtcp(reinterpret_cast<const std::uint8_t*>(report), kSenderInfo);
      }
    }
    at += size;
  }
}

void OutboundRelay::use_media(const PublisherMedia& media) {
  set_kinds(MediaFlags{!media.audio_codec.empty(), !media.video_codec.empty(), false});
  std::lock_guard lock(relay_mutex_);
  audio_.set_payload_type(media.audio_payload_type);
  video_.set_payload_type(media.video_payload_type);
  announced_ = media;
}

PublisherMedia OutboundRelay::announced() {
  std::lock_guard lock(relay_mutex_);
  return announced_;
}

cluster::RelaySenderStats OutboundRelay::close() {
  stop();
  std::unique_ptr<cluster::RelaySender> sender;
  {
    std::lock_guard lock(relay_mutex_);
    sender = std::move(sender_);
  }
  if (!sender) return {};
  // Destroyed outside relay_mutex_: its destructor waits for the relay thread to be out of it.
  cluster::RelaySenderStats last = sender->stats();
  sender.reset();
  return last;
}

cluster::RelaySenderStats OutboundRelay::stats() {
  std::lock_guard lock(relay_mutex_);
  return sender_ ? sender_->stats() : cluster::RelaySenderStats{};
}

std::chrono::milliseconds OutboundRelay::peer_silent_for() {
  std::lock_guard lock(relay_mutex_);
  return sender_ ? sender_->peer_silent_for() : std::chrono::milliseconds::zero();
}

void OutboundRelay::keyframe_requested(std::uint32_t /*media_ssrc*/, bool full_intra) {
  listener_.relay_keyframe_requested(*this, full_intra);
}

void OutboundRelay::peer_lost(std::chrono::milliseconds silent) {
  listener_.relay_peer_lost(*this, silent);
}

}  // namespace jmedia
