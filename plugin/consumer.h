// One receiver of a device's media (Device is the router): today a local viewer
// (LocalViewer); an outbound relay to another node is another kind. The device hands each
// started consumer every packet of the kinds it wants and never asks what kind of consumer it
// is. The state the router reads on the media path is here, in atomics; how a packet leaves
// is the subclass's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "../common/janus_api.h"
#include "publisher_media.h"
#include "types.h"

namespace jmedia {

class Consumer {
 public:
  virtual ~Consumer() = default;
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Media path, on the thread that routes the producer's media (two threads only while two
  // producers overlap in a hand-over). Called only when wants() / wants_data() said yes. May
  // rewrite the packet's RTP header and mindex in place: the device restores them before the
  // next consumer.
  virtual void send_rtp(janus_plugin_rtp& packet) = 0;
  virtual void send_data(janus_plugin_data& packet) = 0;
  // The producer's media this consumer's offer is built from, i.e. what it receives from now
  // on (payload types to rewrite to). Called with the device's mutex held: must take no lock
  // but its own leaves.
  virtual void use_media(const PublisherMedia& media) = 0;
  // The Janus handle of the local session this consumer serves; null when it is none (a
  // relay). The plugin maps it back to a session with its session table (listings, kicks,
  // the news of Device::take_news); the consumer itself never reaches a session.
  virtual janus_plugin_session* session_handle() const { return nullptr; }

  // Started: answered an offer of the producer's current codecs (the device decides).
  bool started() const { return started_.load(std::memory_order_acquire); }
  bool wants(bool video) const {
    return started() && (video ? video_ : audio_).load(std::memory_order_relaxed);
  }
  bool wants_data() const { return started() && data_.load(std::memory_order_relaxed); }
  // The kinds it receives (negotiated, then paused or resumed by its owner). Any thread.
  void set_kinds(const MediaFlags& kinds) {
    audio_.store(kinds.audio, std::memory_order_relaxed);
    video_.store(kinds.video, std::memory_order_relaxed);
    data_.store(kinds.data, std::memory_order_relaxed);
  }
  // No more media from now on (its owner is leaving the device).
  void stop() { started_.store(false, std::memory_order_release); }

  std::uint64_t packets_out() const { return packets_out_.load(std::memory_order_relaxed); }
  std::uint64_t bytes_out() const { return bytes_out_.load(std::memory_order_relaxed); }

 protected:
  Consumer() = default;
  void count_out(std::size_t bytes) {
    packets_out_.fetch_add(1, std::memory_order_relaxed);
    bytes_out_.fetch_add(bytes, std::memory_order_relaxed);
  }

 private:
  friend class Device;
  std::atomic<bool> started_{false};
  std::atomic<bool> audio_{true};
  std::atomic<bool> video_{true};
  std::atomic<bool> data_{true};
  std::atomic<std::uint64_t> packets_out_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  // Device::mutex_ guards both. The producer this consumer was last told of (Device's count
  // of producers; 0: none), and the media its current offer was built from.
  std::uint64_t told_producer_ = 0;
  PublisherMedia offered_;
};

}  // namespace jmedia
