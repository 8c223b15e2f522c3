// The viewers' node's end of a relay: receives one device's RTP and sender reports from its
// origin (origin->viewer key), hands them to its owner in plain, and sends feedback back
// (viewer->origin key): generic NACKs for the gaps in each SSRC's sequence numbers (bounded:
// LossOptions), a PLI when asked (at most one per keyframe_interval), and a receiver report
// every report_interval, which is also what tells the origin that this node is alive.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "relay_loop.h"
#include "relay_peer_clock.h"
#include "relay_loss.h"
#include "relay_socket.h"
#include "relay_srtp.h"

namespace jmedia::cluster {

// Called on the relay thread (RelayLoop), with plain packets the callee may not keep (copy
// them): never destroy the relay from here.
class RelayReceiverListener {
 public:
  virtual void on_rtp(const std::uint8_t* packet, std::size_t len) = 0;
  // A compound RTCP packet from the origin (the publisher's sender reports).
  virtual void on_rtcp(const std::uint8_t* packet, std::size_t len) = 0;

 protected:
  ~RelayReceiverListener() = default;
};

struct RelayReceiverOptions {
  std::string relay_id;  // the origin's (relay_keys.h)
  std::string secret;    // cluster.secret
  RelaySocketOptions socket;
  // The origin's relay socket, where feedback goes until an authenticated packet shows where
  // the origin sends from (then that address). Optional, but without it no receiver report
  // leaves before the first packet, and the origin counts this node silent from its start.
  RelayAddress peer;
  LossOptions loss;
  std::size_t max_streams = 8;  // SSRCs tracked at once; a new one replaces the least recent
  std::chrono::milliseconds keyframe_interval{500};
  std::chrono::milliseconds report_interval{1000};
};

struct RelayReceiverStats {
  std::uint64_t packets_received = 0;  // authenticated RTP, retransmissions included
  std::uint64_t bytes_received = 0;    // on the wire, authenticated RTP and RTCP
  std::uint64_t rtcp_received = 0;
  std::uint64_t lost = 0;        // gaps never filled
  std::uint64_t nacks_sent = 0;  // NACK packets
  std::uint64_t nacked = 0;      // sequence numbers asked for (each time)
  std::uint64_t recovered = 0;   // NACKed, then arrived
  std::uint64_t reordered = 0;   // arrived late before being NACKed
  std::uint64_t restarts = 0;    // sequence jumps beyond what is tracked
  std::uint64_t replayed = 0;    // duplicates SRTP refused (a retransmission not needed)
  std::uint64_t auth_failures = 0;
  std::uint64_t malformed = 0;
  std::uint64_t keyframe_requests_sent = 0;
  std::uint64_t keyframe_requests_limited = 0;
  std::uint64_t reports_sent = 0;
  std::uint64_t send_failures = 0;
  std::uint64_t test_dropped = 0;
};

class RelayReceiver final : private RelayLoop::Endpoint {
 public:
  static std::unique_ptr<RelayReceiver> create(RelayLoop& loop, RelayReceiverOptions options,
                                               RelayReceiverListener& listener, std::string& error);
  // Any thread but the relay thread.
  ~RelayReceiver();
  RelayReceiver(const RelayReceiver&) = delete;
  RelayReceiver& operator=(const RelayReceiver&) = delete;

  // Any thread: sends a PLI for media_ssrc unless a request went less than keyframe_interval
  // ago (false then, or when the origin's address is not known yet). full_intra: a decoder
  // starts now (a new viewer), which cannot wait for the interval: an FIR, never held back
  // (as a local viewer's request is not: one per viewer whose media comes up), and the
  // interval of the PLIs after it starts again. Takes tx_mutex_.
  bool request_keyframe(std::uint32_t media_ssrc, bool full_intra = false);
  // Any thread: where feedback goes from now on (the origin's relay socket, once signalled).
  // An authenticated packet from another address moves it there.
  void set_peer(const RelayAddress& peer);

  const RelayAddress& local() const { return socket_->local(); }
  const std::string& relay_id() const { return relay_id_; }
  // Since the last authenticated packet from the origin (or since creation). Any thread.
  std::chrono::milliseconds peer_silent_for() const;
  RelayReceiverStats stats() const;

 private:
  struct Stream {
    explicit Stream(const LossOptions& options) : tracker(options) {}
    std::uint32_t ssrc = 0;
    bool used = false;
    std::uint64_t last_used = 0;
    LossTracker tracker;
    std::uint64_t expected_prior = 0;  // at the last receiver report
    std::uint64_t received_prior = 0;
    std::uint32_t last_sr = 0;  // middle 32 bits of its last SR's NTP time
    RelayLoop::Clock::time_point last_sr_at{};
  };
  class Reports;
  RelayReceiver(RelayReceiverOptions options, std::unique_ptr<RelaySocket> socket,
                std::unique_ptr<SrtpSession> tx, std::unique_ptr<SrtpSession> rx,
                RelayReceiverListener& listener);
  void on_readable(RelayLoop::Clock::time_point now) override;
  void on_tick(RelayLoop::Clock::time_point now) override;
  void handle_rtp(std::uint8_t* data, std::size_t len, const RelayAddress& from,
                  RelayLoop::Clock::time_point now);
  void handle_rtcp(std::uint8_t* data, std::size_t len, const RelayAddress& from,
                   RelayLoop::Clock::time_point now);
  bool count_unprotect(SrtpResult result);
  void authenticated_from(const RelayAddress& from, RelayLoop::Clock::time_point now);
  Stream& stream_for(std::uint32_t ssrc);
  void send_nacks(Stream& stream, RelayLoop::Clock::time_point now);
  void send_report(RelayLoop::Clock::time_point now);
  // Protects and sends one plain RTCP packet; takes tx_mutex_ for the protect.
  bool send_feedback(const std::uint8_t* rtcp, std::size_t len);

  const std::string relay_id_;
  const std::chrono::milliseconds keyframe_interval_;
  const std::chrono::milliseconds report_interval_;
  const std::uint32_t own_ssrc_;
  const std::unique_ptr<RelaySocket> socket_;
  RelayReceiverListener& listener_;

  // Lock order: RelayLoop's dispatch_mutex_ before tx_mutex_. Guards tx_, peer_ and the last
  // keyframe request; never held across a send or a call out.
  mutable std::mutex tx_mutex_;
  std::unique_ptr<SrtpSession> tx_;
  RelayAddress peer_;
  RelayLoop::Clock::time_point last_keyframe_request_{};
  bool keyframe_requested_ = false;
  std::uint8_t fir_sequence_ = 0;

  // The relay thread's only.
  std::unique_ptr<SrtpSession> rx_;
  std::vector<Stream> streams_;
  std::uint64_t uses_ = 0;
  RelayLoop::Clock::time_point next_report_{};
  std::vector<std::uint64_t> due_;  // NACK scratch

  const RelayLoop::Clock::time_point created_;
  RelayPeerClock peer_clock_;  // the last authenticated packet from the peer
  struct Counters {
    std::atomic<std::uint64_t> packets_received{0}, bytes_received{0}, rtcp_received{0}, lost{0},
        nacks_sent{0}, nacked{0}, recovered{0}, reordered{0}, restarts{0}, replayed{0},
        auth_failures{0}, malformed{0}, keyframe_requests_sent{0}, keyframe_requests_limited{0},
        reports_sent{0}, send_failures{0};
  };
  Counters counters_;

  RelayLoop* loop_ = nullptr;
  std::uint64_t loop_id_ = 0;
};

}  // namespace jmedia::cluster
