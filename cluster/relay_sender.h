// The origin's end of a relay: sends one device's RTP (and the publisher's sender reports) to
// one other node, SRTP-protected with the relay's origin->viewer key; answers that node's
// feedback, protected with the viewer->origin key: a generic NACK resends the packets still
// in its retransmission history, a PLI or FIR asks its owner for a keyframe. Any
// authenticated RTCP from the peer (receiver reports at least every second) shows the peer
// alive: once it has been silent for peer_timeout, the owner is told (once), so that it can
// stop a relay whose viewer node is gone.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "relay_history.h"
#include "relay_loop.h"
#include "relay_peer_clock.h"
#include "relay_socket.h"
#include "relay_srtp.h"

namespace jmedia::cluster {

// Called on the relay thread (RelayLoop): never destroy the relay from here.
class RelaySenderListener {
 public:
  // full_intra: an FIR, i.e. a decoder that starts now (a new viewer on the peer node), which
  // no rate limit of the owner may hold back; false: a PLI.
  virtual void keyframe_requested(std::uint32_t media_ssrc, bool full_intra) = 0;
  virtual void peer_lost(std::chrono::milliseconds silent) = 0;

 protected:
  ~RelaySenderListener() = default;
};

struct RelaySenderOptions {
  std::string relay_id;  // valid_relay_id(), new for every relay (relay_keys.h)
  std::string secret;    // cluster.secret
  RelaySocketOptions socket;
  RelayAddress peer;  // the viewer node's relay socket
  HistoryOptions history;
  std::chrono::milliseconds peer_timeout{5000};
  std::size_t max_resends_per_rtcp = 256;  // bounds what one NACK can make us send
};

struct RelaySenderStats {
  std::uint64_t packets_sent = 0;  // RTP, retransmissions not included
  std::uint64_t bytes_sent = 0;    // on the wire, RTP and RTCP, retransmissions included
  std::uint64_t rtcp_sent = 0;
  std::uint64_t nacks_received = 0;  // sequence numbers asked for
  std::uint64_t retransmitted = 0;
  std::uint64_t not_in_history = 0;  // asked for, too old or never sent
  std::uint64_t keyframe_requests = 0;
  std::uint64_t rtcp_received = 0;  // authenticated
  std::uint64_t auth_failures = 0;
  std::uint64_t replayed = 0;
  std::uint64_t malformed = 0;  // not SRTCP, truncated, bad RTCP lengths, RTP on our port
  std::uint64_t rejected = 0;   // given to send_rtp/send_rtcp but not plain RTP/RTCP, or too big
  std::uint64_t send_failures = 0;  // protect or the kernel refused it
  std::uint64_t test_dropped = 0;
};

class RelaySender final : private RelayLoop::Endpoint {
 public:
  // null with error set (bad relay id, no port, libsrtp refusing GCM, ...).
  static std::unique_ptr<RelaySender> create(RelayLoop& loop, RelaySenderOptions options,
                                             RelaySenderListener& listener, std::string& error);
  // Any thread but the relay thread.
  ~RelaySender();
  RelaySender(const RelaySender&) = delete;
  RelaySender& operator=(const RelaySender&) = delete;

  // The media path (Janus's loop threads): never blocks, never allocates. Takes mutex_ for the
  // history copy and the protect, not for the send. false when the packet is not plain RTP
  // (payload types 64-95 with the marker set read as RTCP on a shared port: refused) or RTCP
  // of at most kRelayMaxDatagram - kSrtpTag bytes, or when protect or the kernel failed.
  bool send_rtp(const std::uint8_t* packet, std::size_t len);
  bool send_rtcp(const std::uint8_t* packet, std::size_t len);

  const RelayAddress& local() const { return socket_->local(); }
  const std::string& relay_id() const { return relay_id_; }
  // Since the last authenticated RTCP from the peer (or since creation). Any thread.
  std::chrono::milliseconds peer_silent_for() const;
  RelaySenderStats stats() const;

 private:
  class Feedback;
  RelaySender(RelaySenderOptions options, std::unique_ptr<RelaySocket> socket,
              std::unique_ptr<SrtpSession> tx, std::unique_ptr<SrtpSession> rx,
              RelaySenderListener& listener);
  void on_readable(RelayLoop::Clock::time_point now) override;
  void on_tick(RelayLoop::Clock::time_point now) override;
  void handle_datagram(std::uint8_t* data, std::size_t len, RelayLoop::Clock::time_point now);
  void resend(std::uint32_t ssrc, std::uint16_t seq, RelayLoop::Clock::time_point now,
              std::size_t& budget);

  const std::string relay_id_;
  const RelayAddress peer_;
  const std::chrono::milliseconds peer_timeout_;
  const std::size_t max_resends_;
  const std::unique_ptr<RelaySocket> socket_;
  RelaySenderListener& listener_;

  // Lock order: RelayLoop's dispatch_mutex_ (held around on_readable/on_tick) before mutex_.
  // Guards tx_ and history_; held for a copy and a protect, never across a send or a call out.
  std::mutex mutex_;
  std::unique_ptr<SrtpSession> tx_;
  RetransmissionHistory history_;

  // The relay thread's only.
  std::unique_ptr<SrtpSession> rx_;
  bool peer_lost_told_ = false;

  RelayPeerClock peer_clock_;  // the last authenticated RTCP from the peer
  struct Counters {
    std::atomic<std::uint64_t> packets_sent{0}, bytes_sent{0}, rtcp_sent{0}, nacks_received{0},
        retransmitted{0}, not_in_history{0}, keyframe_requests{0}, rtcp_received{0},
        auth_failures{0}, replayed{0}, malformed{0}, rejected{0}, send_failures{0};
  };
  Counters counters_;

  RelayLoop* loop_ = nullptr;
  std::uint64_t loop_id_ = 0;
};

}  // namespace jmedia::cluster
