// The viewers' end of a relay, as a test plays it: a RelayReceiver that records what it gets,
// and RTP packets as the core hands a publisher's to the plugin.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../../cluster/relay_receiver.h"
#include "../../common/janus_api.h"

namespace jmedia::testing {

struct ReceivedRtp {
  std::uint32_t ssrc;
  std::uint16_t seq;
  std::uint32_t timestamp;
  int payload_type;
  std::string payload;
};

class RecordingReceiver final : public cluster::RelayReceiverListener {
 public:
  // null (and a test failure) when it cannot be made.
  static std::unique_ptr<RecordingReceiver> make(
      cluster::RelayLoop& loop, const std::string& relay_id, const std::string& secret,
      std::chrono::milliseconds report_interval = std::chrono::milliseconds(1000)) {
    auto recording = std::unique_ptr<RecordingReceiver>(new RecordingReceiver);
    cluster::RelayReceiverOptions options;
    options.relay_id = relay_id;
    options.secret = secret;
    options.socket.host = "127.0.0.1";
    options.report_interval = report_interval;
    std::string error;
    recording->receiver = cluster::RelayReceiver::create(loop, options, *recording, error);
    if (!recording->receiver) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    return recording;
  }
  ~RecordingReceiver() { receiver.reset(); }  // first: it calls on_rtp until destroyed

  void on_rtp(const std::uint8_t* p, std::size_t len) override {
    if (len < 12) return;
    ReceivedRtp rtp{(std::uint32_t{p[8]} << 24) | (std::uint32_t{p[9]} << 16) |
                        (std::uint32_t{p[10]} << 8) | p[11],
                    static_cast<std::uint16_t>((p[2] << 8) | p[3]),
                    (std::uint32_t{p[4]} << 24) | (std::uint32_t{p[5]} << 16) |
                        (std::uint32_t{p[6]} << 8) | p[7],
                    p[1] & 0x7f, std::string(reinterpret_cast<const char*>(p) + 12, len - 12)};
    std::lock_guard lock(mutex_);
    packets_.push_back(std::move(rtp));
  }
  void on_rtcp(const std::uint8_t*, std::size_t) override {}

  std::vector<ReceivedRtp> packets() {
    std::lock_guard lock(mutex_);
    return packets_;
  }
  // The packets of one payload type, in arrival order, duplicates dropped.
  std::vector<ReceivedRtp> of_type(int payload_type) {
    std::vector<ReceivedRtp> out;
    for (auto& p : packets()) {
      if (p.payload_type != payload_type) continue;
      bool seen = false;
      for (const auto& o : out) seen = seen || o.seq == p.seq;
      if (!seen) out.push_back(std::move(p));
    }
    return out;
  }

  std::unique_ptr<cluster::RelayReceiver> receiver;

 private:
  RecordingReceiver() = default;
  std::mutex mutex_;
  std::vector<ReceivedRtp> packets_;
};

// One RTP packet of a publisher, as the core hands it to incoming_rtp.
struct PublisherRtp {
  PublisherRtp(bool video, std::uint8_t payload_type, std::uint32_t ssrc, std::uint16_t seq,
               std::uint32_t timestamp) {
    bytes[0] = static_cast<char>(0x80);
    bytes[1] = static_cast<char>(payload_type);
    bytes[2] = static_cast<char>(seq >> 8);
    bytes[3] = static_cast<char>(seq & 0xff);
    for (int i = 0; i < 4; ++i) {
      bytes[4 + i] = static_cast<char>(timestamp >> (24 - 8 * i));
      bytes[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
    }
    const std::string payload = "payload-" + std::to_string(seq);
    for (std::size_t i = 0; i < payload.size() && 12 + i < bytes.size(); ++i) {
      bytes[12 + i] = payload[i];
    }
    packet.video = video ? TRUE : FALSE;
    packet.mindex = video ? 1 : 0;
    packet.buffer = bytes.data();
    packet.length = bytes.size();
  }
  std::array<char, 40> bytes{};
  janus_plugin_rtp packet{};
};

}  // namespace jmedia::testing
