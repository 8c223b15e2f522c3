#include "relay_sender.h"

#include "../common/log.h"
#include "relay_counter.h"
#include "relay_rtcp.h"

namespace jmedia::cluster {
namespace {

using Clock = RelayLoop::Clock;

constexpr std::size_t kMaxPlain = kRelayMaxDatagram - kSrtcpTrailer;

}  // namespace

// What the peer's RTCP asks for, on the relay thread.
class RelaySender::Feedback final : public RtcpVisitor {
 public:
  Feedback(RelaySender& sender, Clock::time_point now)
      : sender_(sender), now_(now), budget_(sender.max_resends_) {}
  void on_nack(std::uint32_t /*sender_ssrc*/, std::uint32_t media_ssrc, std::uint16_t pid,
               std::uint16_t blp) override {
    sender_.resend(media_ssrc, pid, now_, budget_);
    for (unsigned bit = 0; bit < 16; ++bit) {
      if ((blp >> bit) & 1u) {
        sender_.resend(media_ssrc, static_cast<std::uint16_t>(pid + bit + 1), now_, budget_);
      }
    }
  }
  void on_keyframe_request(std::uint32_t /*sender_ssrc*/, std::uint32_t media_ssrc,
                           bool full_intra) override {
    add(sender_.counters_.keyframe_requests);
    sender_.listener_.keyframe_requested(media_ssrc, full_intra);
  }
  void on_sender_report(std::uint32_t /*ssrc*/, std::uint64_t /*ntp*/,
                        std::uint32_t /*rtp_ts*/) override {}
  void on_receiver_report(std::uint32_t /*ssrc*/) override {}

 private:
  RelaySender& sender_;
  const Clock::time_point now_;
  std::size_t budget_;
};

std::unique_ptr<RelaySender> RelaySender::create(RelayLoop& loop, RelaySenderOptions options,
                                                 RelaySenderListener& listener,
                                                 std::string& error) {
  if (!valid_relay_id(options.relay_id)) {
    error = "relay id '" + options.relay_id.substr(0, 80) + "' is not valid";
    return nullptr;
  }
  if (options.secret.empty()) {
    error = "relay " + options.relay_id + ": no secret";
    return nullptr;
  }
  if (!options.peer.valid()) {
    error = "relay " + options.relay_id + ": no peer address";
    return nullptr;
  }
  auto tx = SrtpSession::create(
      derive_relay_key(options.secret, options.relay_id, RelayDirection::kOriginToViewer),
      SrtpSession::Role::kOutbound, error);
  if (!tx) return nullptr;
  auto rx = SrtpSession::create(
      derive_relay_key(options.secret, options.relay_id, RelayDirection::kViewerToOrigin),
      SrtpSession::Role::kInbound, error);
  if (!rx) return nullptr;
  auto socket = RelaySocket::open(options.socket, error);
  if (!socket) return nullptr;
  std::unique_ptr<RelaySender> sender(new RelaySender(std::move(options), std::move(socket),
                                                      std::move(tx), std::move(rx), listener));
  sender->loop_ = &loop;
  sender->loop_id_ = loop.attach(sender->socket_->fd(), *sender);
  if (sender->loop_id_ == 0) {
    error = "relay " + sender->relay_id_ + ": the relay thread refused its socket";
    return nullptr;
  }
  log_info("cluster relay %s: sending from %s to %s (%s)", sender->relay_id_.c_str(),
           sender->local().text().c_str(), sender->peer_.text().c_str(), SrtpSession::suite_name());
  return sender;
}

RelaySender::RelaySender(RelaySenderOptions options, std::unique_ptr<RelaySocket> socket,
                         std::unique_ptr<SrtpSession> tx, std::unique_ptr<SrtpSession> rx,
                         RelaySenderListener& listener)
    : relay_id_(std::move(options.relay_id)),
      peer_(options.peer),
      peer_timeout_(options.peer_timeout),
      max_resends_(options.max_resends_per_rtcp),
      socket_(std::move(socket)),
      listener_(listener),
      tx_(std::move(tx)),
      history_(options.history),
      rx_(std::move(rx)),
      peer_clock_(Clock::now()) {}

RelaySender::~RelaySender() {
  if (loop_id_ != 0) loop_->detach(loop_id_);
}

bool RelaySender::send_rtp(const std::uint8_t* packet, std::size_t len) {
  if (packet == nullptr || len < 12 || len > kMaxPlain || (packet[0] >> 6) != 2 ||
      is_rtcp(packet, len)) {
    add(counters_.rejected);
    return false;
  }
  std::uint8_t wire[kRelayMaxDatagram + kSrtpRoom];
  std::size_t wire_len = 0;
  SrtpResult result;
  {
    std::lock_guard lock(mutex_);
    history_.store(packet, len, Clock::now());
    result = tx_->protect_rtp(packet, len, wire, sizeof wire, wire_len);
  }
  if (result != SrtpResult::kOk || !socket_->send_to(wire, wire_len, peer_)) {
    add(counters_.send_failures);
    return false;
  }
  add(counters_.packets_sent);
  add(counters_.bytes_sent, wire_len);
  return true;
}

bool RelaySender::send_rtcp(const std::uint8_t* packet, std::size_t len) {
  if (packet == nullptr || len < 8 || len > kMaxPlain || (packet[0] >> 6) != 2 ||
      !is_rtcp(packet, len)) {
    add(counters_.rejected);
    return false;
  }
  std::uint8_t wire[kRelayMaxDatagram + kSrtpRoom];
  std::size_t wire_len = 0;
  SrtpResult result;
  {
    std::lock_guard lock(mutex_);
    result = tx_->protect_rtcp(packet, len, wire, sizeof wire, wire_len);
  }
  if (result != SrtpResult::kOk || !socket_->send_to(wire, wire_len, peer_)) {
    add(counters_.send_failures);
    return false;
  }
  add(counters_.rtcp_sent);
  add(counters_.bytes_sent, wire_len);
  return true;
}

void RelaySender::resend(std::uint32_t ssrc, std::uint16_t seq, Clock::time_point now,
                         std::size_t& budget) {
  add(counters_.nacks_received);
  if (budget == 0) return;
  --budget;
  std::uint8_t wire[kRelayMaxDatagram + kSrtpRoom];
  std::size_t wire_len = 0;
  SrtpResult result = SrtpResult::kFailed;
  {
    std::lock_guard lock(mutex_);
    const std::size_t len = history_.find(ssrc, seq, now, wire, kMaxPlain);
    if (len == 0) {
      add(counters_.not_in_history);
      return;
    }
    result = tx_->protect_rtp(wire, len, wire, sizeof wire, wire_len);
  }
  if (result != SrtpResult::kOk || !socket_->send_to(wire, wire_len, peer_)) {
    add(counters_.send_failures);
    return;
  }
  add(counters_.retransmitted);
  add(counters_.bytes_sent, wire_len);
}

void RelaySender::on_readable(Clock::time_point now) {
  std::uint8_t buffer[kRelayMaxDatagram + kSrtpRoom];
  // Bounded, so that one busy relay does not starve the others; epoll reports the rest.
  for (int i = 0; i < 64; ++i) {
    RelayAddress from;
    bool truncated = false;
    const long got = socket_->receive(buffer, kRelayMaxDatagram, from, truncated);
    if (got <= 0) return;
    if (truncated) {
      add(counters_.malformed);
      continue;
    }
    handle_datagram(buffer, static_cast<std::size_t>(got), now);
  }
}

void RelaySender::handle_datagram(std::uint8_t* data, std::size_t len, Clock::time_point now) {
  if (!is_rtcp(data, len)) {  // a sender gets only feedback
    add(counters_.malformed);
    return;
  }
  switch (rx_->unprotect_rtcp(data, len)) {
    case SrtpResult::kOk:
      break;
    case SrtpResult::kAuthFailed:
      add(counters_.auth_failures);
      return;
    case SrtpResult::kReplayed:
      add(counters_.replayed);
      return;
    default:
      add(counters_.malformed);
      return;
  }
  add(counters_.rtcp_received);
  peer_clock_.heard(now);
  peer_lost_told_ = false;
  Feedback feedback(*this, now);
  if (!parse_rtcp(data, len, feedback)) add(counters_.malformed);
}

void RelaySender::on_tick(Clock::time_point now) {
  if (peer_lost_told_) return;
  const auto since = peer_clock_.silent_for(now);
  if (since < peer_timeout_) return;
  peer_lost_told_ = true;
  const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(since);
  log_warn("cluster relay %s: no RTCP from %s for %lld ms", relay_id_.c_str(), peer_.text().c_str(),
           static_cast<long long>(silent.count()));
  listener_.peer_lost(silent);
}

std::chrono::milliseconds RelaySender::peer_silent_for() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      peer_clock_.silent_for(Clock::now()));
}

RelaySenderStats RelaySender::stats() const {
  const auto get = [](const std::atomic<std::uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  RelaySenderStats s;
  s.packets_sent = get(counters_.packets_sent);
  s.bytes_sent = get(counters_.bytes_sent);
  s.rtcp_sent = get(counters_.rtcp_sent);
  s.nacks_received = get(counters_.nacks_received);
  s.retransmitted = get(counters_.retransmitted);
  s.not_in_history = get(counters_.not_in_history);
  s.keyframe_requests = get(counters_.keyframe_requests);
  s.rtcp_received = get(counters_.rtcp_received);
  s.auth_failures = get(counters_.auth_failures);
  s.replayed = get(counters_.replayed);
  s.malformed = get(counters_.malformed);
  s.rejected = get(counters_.rejected);
  s.send_failures = get(counters_.send_failures);
  s.test_dropped = socket_->test_dropped();
  return s;
}

}  // namespace jmedia::cluster
