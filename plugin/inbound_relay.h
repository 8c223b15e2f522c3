// A producer that is another node's device, received over one relay (cluster::RelayReceiver):
// the viewers' node's end of "one relay per device and node" (README, "Scale-out"). The relay
// thread hands each authenticated RTP packet to the device it is the producer of, told apart
// audio from video by the payload types of the media the origin announced; a keyframe asked
// for by a consumer becomes a PLI to the origin (the receiver's own rate limit). Made and
// destroyed by the plugin's remote relays (remote_devices.cpp), never on the relay thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "../cluster/relay_receiver.h"
#include "producer.h"
#include "publisher_media.h"

namespace jmedia {

class Device;

class InboundRelay final : public Producer, private cluster::RelayReceiverListener {
 public:
  // null with error set when the receiver cannot be made (no free relay port, libsrtp).
  static std::shared_ptr<InboundRelay> create(cluster::RelayLoop& loop,
                                              cluster::RelayReceiverOptions options,
                                              std::string origin_node, std::string& error);
  // Any thread but the relay thread (the receiver detaches from the loop first).
  ~InboundRelay() override;
  InboundRelay(const InboundRelay&) = delete;
  InboundRelay& operator=(const InboundRelay&) = delete;

  void request_keyframe(bool new_consumer) override;
  const std::string* origin_node() const override { return &origin_; }

  // Where packets go from now on, and which payload types are audio and video (the media the
  // origin announced). Any thread but the relay thread's listener.
  void bind(const std::shared_ptr<Device>& device, const PublisherMedia& media);
  cluster::RelayReceiver& receiver() const { return *receiver_; }
  // Dropped on arrival: a payload type the announced media does not have, or no device.
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t routed() const { return routed_.load(std::memory_order_relaxed); }

 private:
  explicit InboundRelay(std::string origin_node) : origin_(std::move(origin_node)) {}
  void on_rtp(const std::uint8_t* packet, std::size_t len) override;
  // The publisher's sender reports: Janus makes its own for each viewer's PeerConnection.
  void on_rtcp(const std::uint8_t* /*packet*/, std::size_t /*len*/) override {}

  const std::string origin_;
  // Guards device_ only: a copy per packet, a change per (re)claim. A leaf, and this relay's own.
  mutable std::mutex device_mutex_;
  std::weak_ptr<Device> device_;
  std::atomic<int> audio_pt_{-1};
  std::atomic<int> video_pt_{-1};
  std::atomic<std::uint32_t> video_ssrc_{0};  // the last video SSRC seen: what a PLI names
  // A new consumer asked for a keyframe before any video came: the first video packet sends it.
  std::atomic<bool> full_intra_pending_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> routed_{0};
  // The relay thread's only: the packet as Device::route_rtp rewrites it in place.
  std::array<std::uint8_t, cluster::kRelayMaxDatagram> scratch_{};
  // Last: destroyed first, so the relay thread is out of this object before the rest goes.
  std::unique_ptr<cluster::RelayReceiver> receiver_;
};

}  // namespace jmedia
