#include "relay_receiver.h"

#include <sys/random.h>

#include <algorithm>

#include "../common/log.h"
#include "relay_counter.h"
#include "relay_rtcp.h"

namespace jmedia::cluster {
namespace {

using Clock = RelayLoop::Clock;

constexpr std::size_t kNackEntriesPerPacket = 64;
constexpr std::size_t kDuePerTick = 256;

std::int64_t ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::uint32_t random_ssrc() {
  std::uint32_t value = 0;
  if (getrandom(&value, sizeof value, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof value)) {
    value = static_cast<std::uint32_t>(ns(Clock::now()));
  }
  return value == 0 ? 1 : value;
}

}  // namespace

// Sender reports from the origin: kept per SSRC for the LSR/DLSR of receiver reports.
class RelayReceiver::Reports final : public RtcpVisitor {
 public:
  Reports(RelayReceiver& receiver, Clock::time_point now) : receiver_(receiver), now_(now) {}
  void on_nack(std::uint32_t /*sender_ssrc*/, std::uint32_t /*media_ssrc*/, std::uint16_t /*pid*/,
               std::uint16_t /*blp*/) override {}
  void on_keyframe_request(std::uint32_t /*sender_ssrc*/, std::uint32_t /*media_ssrc*/,
                           bool /*full_intra*/) override {}
  void on_sender_report(std::uint32_t ssrc, std::uint64_t ntp, std::uint32_t /*rtp_ts*/) override {
    for (Stream& stream : receiver_.streams_) {
      if (stream.used && stream.ssrc == ssrc) {
        stream.last_sr = static_cast<std::uint32_t>(ntp >> 16);
        stream.last_sr_at = now_;
      }
    }
  }
  void on_receiver_report(std::uint32_t /*ssrc*/) override {}

 private:
  RelayReceiver& receiver_;
  const Clock::time_point now_;
};

std::unique_ptr<RelayReceiver> RelayReceiver::create(RelayLoop& loop, RelayReceiverOptions options,
                                                     RelayReceiverListener& listener,
                                                     std::string& error) {
  if (!valid_relay_id(options.relay_id)) {
    error = "relay id '" + options.relay_id.substr(0, 80) + "' is not valid";
    return nullptr;
  }
  if (options.secret.empty()) {
    error = "relay " + options.relay_id + ": no secret";
    return nullptr;
  }
  auto tx = SrtpSession::create(
      derive_relay_key(options.secret, options.relay_id, RelayDirection::kViewerToOrigin),
      SrtpSession::Role::kOutbound, error);
  if (!tx) return nullptr;
  auto rx = SrtpSession::create(
      derive_relay_key(options.secret, options.relay_id, RelayDirection::kOriginToViewer),
      SrtpSession::Role::kInbound, error);
  if (!rx) return nullptr;
  auto socket = RelaySocket::open(options.socket, error);
  if (!socket) return nullptr;
  std::unique_ptr<RelayReceiver> receiver(new RelayReceiver(
      std::move(options), std::move(socket), std::move(tx), std::move(rx), listener));
  receiver->loop_ = &loop;
  receiver->loop_id_ = loop.attach(receiver->socket_->fd(), *receiver);
  if (receiver->loop_id_ == 0) {
    error = "relay " + receiver->relay_id_ + ": the relay thread refused its socket";
    return nullptr;
  }
  log_info("cluster relay %s: receiving on %s (%s)", receiver->relay_id_.c_str(),
           receiver->local().text().c_str(), SrtpSession::suite_name());
  return receiver;
}

RelayReceiver::RelayReceiver(RelayReceiverOptions options, std::unique_ptr<RelaySocket> socket,
                             std::unique_ptr<SrtpSession> tx, std::unique_ptr<SrtpSession> rx,
                             RelayReceiverListener& listener)
    : relay_id_(std::move(options.relay_id)),
      keyframe_interval_(options.keyframe_interval),
      report_interval_(options.report_interval),
      own_ssrc_(random_ssrc()),
      socket_(std::move(socket)),
      listener_(listener),
      tx_(std::move(tx)),
      peer_(options.peer),
      rx_(std::move(rx)),
      created_(Clock::now()),
      peer_clock_(created_) {
  streams_.reserve(std::max<std::size_t>(options.max_streams, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(options.max_streams, 1); ++i) {
    streams_.emplace_back(options.loss);
  }
  due_.resize(kDuePerTick);
  next_report_ = created_;
}

RelayReceiver::~RelayReceiver() {
  if (loop_id_ != 0) loop_->detach(loop_id_);
}

bool RelayReceiver::request_keyframe(std::uint32_t media_ssrc, bool full_intra) {
  std::uint8_t plain[20];
  std::size_t len = 0;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard lock(tx_mutex_);
    if (!full_intra && keyframe_requested_ && now - last_keyframe_request_ < keyframe_interval_) {
      add(counters_.keyframe_requests_limited);
      return false;
    }
    if (!peer_.valid()) return false;
    keyframe_requested_ = true;
    last_keyframe_request_ = now;
    len = full_intra ? write_fir(plain, sizeof plain, own_ssrc_, media_ssrc, fir_sequence_++)
                     : write_pli(plain, sizeof plain, own_ssrc_, media_ssrc);
  }
  if (!send_feedback(plain, len)) return false;
  add(counters_.keyframe_requests_sent);
  return true;
}

bool RelayReceiver::send_feedback(const std::uint8_t* rtcp, std::size_t len) {
  std::uint8_t wire[kRelayMaxDatagram + kSrtpRoom];
  std::size_t wire_len = 0;
  RelayAddress to;
  SrtpResult result;
  {
    std::lock_guard lock(tx_mutex_);
    to = peer_;
    result = tx_->protect_rtcp(rtcp, len, wire, sizeof wire, wire_len);
  }
  if (!to.valid()) return false;
  if (result != SrtpResult::kOk || !socket_->send_to(wire, wire_len, to)) {
    add(counters_.send_failures);
    return false;
  }
  return true;
}

void RelayReceiver::on_readable(Clock::time_point now) {
  std::uint8_t buffer[kRelayMaxDatagram + kSrtpRoom];
  for (int i = 0; i < 64; ++i) {
    RelayAddress from;
    bool truncated = false;
    const long got = socket_->receive(buffer, kRelayMaxDatagram, from, truncated);
    if (got <= 0) return;
    const auto len = static_cast<std::size_t>(got);
    if (truncated || len < 2) {
      add(counters_.malformed);
      continue;
    }
    if (is_rtcp(buffer, len)) {
      handle_rtcp(buffer, len, from, now);
    } else {
      handle_rtp(buffer, len, from, now);
    }
  }
}

bool RelayReceiver::count_unprotect(SrtpResult result) {
  switch (result) {
    case SrtpResult::kOk:
      return true;
    case SrtpResult::kAuthFailed:
      add(counters_.auth_failures);
      return false;
    case SrtpResult::kReplayed:
      add(counters_.replayed);
      return false;
    default:
      add(counters_.malformed);
      return false;
  }
}

void RelayReceiver::authenticated_from(const RelayAddress& from, Clock::time_point now) {
  peer_clock_.heard(now);
  std::lock_guard lock(tx_mutex_);
  if (!(from == peer_)) peer_ = from;
}

void RelayReceiver::set_peer(const RelayAddress& peer) {
  std::lock_guard lock(tx_mutex_);
  peer_ = peer;
}

RelayReceiver::Stream& RelayReceiver::stream_for(std::uint32_t ssrc) {
  Stream* oldest = &streams_.front();
  for (Stream& stream : streams_) {
    if (stream.used && stream.ssrc == ssrc) {
      stream.last_used = ++uses_;
      return stream;
    }
    if (!stream.used || (oldest->used && stream.last_used < oldest->last_used)) oldest = &stream;
  }
  // A new SSRC takes a free slot or the least recent one (its losses stay counted).
  oldest->tracker.reset();
  oldest->ssrc = ssrc;
  oldest->used = true;
  oldest->last_used = ++uses_;
  oldest->expected_prior = oldest->received_prior = 0;
  oldest->last_sr = 0;
  oldest->last_sr_at = {};
  return *oldest;
}

void RelayReceiver::handle_rtp(std::uint8_t* data, std::size_t len, const RelayAddress& from,
                               Clock::time_point now) {
  const std::size_t wire_len = len;
  if (!count_unprotect(rx_->unprotect_rtp(data, len))) return;
  authenticated_from(from, now);
  add(counters_.packets_received);
  add(counters_.bytes_received, wire_len);
  const std::uint32_t ssrc = (static_cast<std::uint32_t>(data[8]) << 24) |
                             (static_cast<std::uint32_t>(data[9]) << 16) |
                             (static_cast<std::uint32_t>(data[10]) << 8) | data[11];
  const auto seq = static_cast<std::uint16_t>((data[2] << 8) | data[3]);
  Stream& stream = stream_for(ssrc);
  const std::uint64_t lost_before = stream.tracker.lost();
  switch (stream.tracker.on_packet(seq, now)) {
    case LossTracker::Arrival::kRecovered:
      add(counters_.recovered);
      break;
    case LossTracker::Arrival::kReordered:
      add(counters_.reordered);
      break;
    case LossTracker::Arrival::kRestart:
      add(counters_.restarts);
      break;
    case LossTracker::Arrival::kInOrder:
    case LossTracker::Arrival::kOld:
      break;
  }
  add(counters_.lost, stream.tracker.lost() - lost_before);
  listener_.on_rtp(data, len);
}

void RelayReceiver::handle_rtcp(std::uint8_t* data, std::size_t len, const RelayAddress& from,
                                Clock::time_point now) {
  const std::size_t wire_len = len;
  if (!count_unprotect(rx_->unprotect_rtcp(data, len))) return;
  authenticated_from(from, now);
  add(counters_.rtcp_received);
  add(counters_.bytes_received, wire_len);
  Reports reports(*this, now);
  if (!parse_rtcp(data, len, reports)) {
    add(counters_.malformed);
    return;
  }
  listener_.on_rtcp(data, len);
}

void RelayReceiver::on_tick(Clock::time_point now) {
  for (Stream& stream : streams_) {
    if (stream.used && stream.tracker.missing() > 0 && stream.tracker.next_due() <= now) {
      send_nacks(stream, now);
    }
  }
  if (now < next_report_) return;
  bool peer_known = false;
  {
    std::lock_guard lock(tx_mutex_);
    peer_known = peer_.valid();
  }
  // Without a peer, the first report leaves as soon as it is known.
  if (peer_known) {
    next_report_ = now + report_interval_;
    send_report(now);
  }
}

}  // namespace jmedia::cluster

namespace jmedia::cluster {

void RelayReceiver::send_nacks(Stream& stream, Clock::time_point now) {
  const std::uint64_t lost_before = stream.tracker.lost();
  const std::size_t count = stream.tracker.due(now, due_.data(), due_.size());
  add(counters_.lost, stream.tracker.lost() - lost_before);
  std::size_t done = 0;
  while (done < count) {
    std::uint8_t plain[12 + 4 * kNackEntriesPerPacket];
    std::size_t covered = 0;
    const std::size_t len =
        write_nack(plain, sizeof plain, own_ssrc_, stream.ssrc, due_.data() + done, count - done,
                   kNackEntriesPerPacket, covered);
    if (len == 0 || covered == 0) break;
    done += covered;
    if (send_feedback(plain, len)) {
      add(counters_.nacks_sent);
      add(counters_.nacked, covered);
    }
  }
}

void RelayReceiver::send_report(Clock::time_point now) {
  ReportBlock blocks[31];
  std::size_t count = 0;
  for (Stream& stream : streams_) {
    if (!stream.used || !stream.tracker.started() || count == 31) continue;
    ReportBlock& block = blocks[count++];
    const std::uint64_t expected = stream.tracker.expected();
    const std::uint64_t received = stream.tracker.received();
    const std::uint64_t expected_interval = expected - stream.expected_prior;
    const std::uint64_t received_interval = received - stream.received_prior;
    stream.expected_prior = expected;
    stream.received_prior = received;
    block.ssrc = stream.ssrc;
    if (expected_interval > received_interval && expected_interval > 0) {
      block.fraction_lost = static_cast<std::uint8_t>(
          ((expected_interval - received_interval) << 8) / expected_interval);
    }
    block.cumulative_lost = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(expected > received ? expected - received : 0, 0x7fffff));
    block.highest_seq =
        static_cast<std::uint32_t>(stream.tracker.highest() - (std::uint64_t{1} << 16));
    if (stream.last_sr != 0) {
      block.last_sr = stream.last_sr;
      const auto since =
          std::chrono::duration_cast<std::chrono::microseconds>(now - stream.last_sr_at);
      block.delay_since_sr = static_cast<std::uint32_t>(since.count() * 65536 / 1000000);
    }
  }
  std::uint8_t plain[8 + 24 * 31];
  const std::size_t len = write_receiver_report(plain, sizeof plain, own_ssrc_, blocks, count);
  if (len != 0 && send_feedback(plain, len)) add(counters_.reports_sent);
}

std::chrono::milliseconds RelayReceiver::peer_silent_for() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      peer_clock_.silent_for(Clock::now()));
}

RelayReceiverStats RelayReceiver::stats() const {
  const auto get = [](const std::atomic<std::uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  RelayReceiverStats s;
  s.packets_received = get(counters_.packets_received);
  s.bytes_received = get(counters_.bytes_received);
  s.rtcp_received = get(counters_.rtcp_received);
  s.lost = get(counters_.lost);
  s.nacks_sent = get(counters_.nacks_sent);
  s.nacked = get(counters_.nacked);
  s.recovered = get(counters_.recovered);
  s.reordered = get(counters_.reordered);
  s.restarts = get(counters_.restarts);
  s.replayed = get(counters_.replayed);
  s.auth_failures = get(counters_.auth_failures);
  s.malformed = get(counters_.malformed);
  s.keyframe_requests_sent = get(counters_.keyframe_requests_sent);
  s.keyframe_requests_limited = get(counters_.keyframe_requests_limited);
  s.reports_sent = get(counters_.reports_sent);
  s.send_failures = get(counters_.send_failures);
  s.test_dropped = socket_->test_dropped();
  return s;
}

}  // namespace jmedia::cluster
