#include "edge.h"

#include <cinttypes>

#include "../common/log.h"

namespace jmedia::edge {
namespace {

std::uint64_t id_of(const json_t* object, const char* key) {
  const std::optional<std::int64_t> value = integer_member(object, key);
  return value && *value > 0 ? static_cast<std::uint64_t>(*value) : 0;
}

Result result_of(const json_t* answer) {
  const std::optional<std::string_view> janus = string_member(answer, "janus");
  if (!janus) return Result::kError;
  if (*janus == "error") return Result::kError;
  if (*janus == "ack") return Result::kAck;
  return Result::kSuccess;  // success, pong, server_info
}

}  // namespace

RateGuard make_rate_guard(const EdgeConfig& config, Clock::time_point now) {
  return RateGuard(config.max_requests_per_s, config.request_burst,
                   std::chrono::seconds(config.abuse_window_s), now);
}

static HoldOptions hold_options(const EdgeConfig& config) {
  HoldOptions options;
  options.timeout = std::chrono::milliseconds(config.hold_timeout_ms);
  options.max_per_handle = config.max_held_per_handle;
  options.max_total = config.max_held_requests;
  return options;
}

Edge::Edge(const EdgeConfig& config, CoreLink& core, EdgeMetrics& metrics, CandidatePolicy policy,
           CutSink* cuts, runtime::PcWatch* watch)
    : config_(config),
      core_(core),
      metrics_(metrics),
      candidates_(policy),
      cuts_(cuts),
      connections_(config.max_connections, config.max_connections_per_ip),
      holds_(hold_options(config), watch) {
  holds_.on_timeout([this](const runtime::HandleKey& key, Verb verb, std::uint64_t total) {
    metrics_.hold_timeout();
    // Logged the first time and every 100th: a client may cause them on purpose.
    if (total % 100 != 1) return;
    log_info("handle %" PRIu64 " of session %" PRIu64
             ": a held %s forwarded after hold_timeout_ms = %u without the first selected pair, "
             "ICE failure or hangup (%" PRIu64 " handles so far; logged every 100th)",
             key.handle_id, key.session_id, std::string(kVerbNames[static_cast<int>(verb)]).c_str(),
             config_.hold_timeout_ms, total);
  });
  holds_.start();
}

HoldQueue::Verdict Edge::hold(Transport transport, const ClientRequest& request,
                              Clock::time_point now, HoldQueue::Forward& forward,
                              std::string& refusal) {
  const runtime::HandleKey key{request.session_id, request.handle_id};
  // The gauge first: the hold thread may forward (and count it down) before admit() returns.
  metrics_.held_now().fetch_add(1, std::memory_order_relaxed);
  HoldQueue::Forward counted = [this, inner = std::move(forward)] {
    metrics_.held_now().fetch_sub(1, std::memory_order_relaxed);
    inner();
  };
  const HoldQueue::Verdict verdict = holds_.admit(key, request.verb, now, counted);
  if (verdict == HoldQueue::Verdict::kHeld) {
    metrics_.held(request.verb);
    return verdict;
  }
  metrics_.held_now().fetch_sub(1, std::memory_order_relaxed);
  if (verdict == HoldQueue::Verdict::kFull) {
    if (request.candidates != 0 && request.handle_id != 0) {
      candidates_.release(key, request.candidates);
    }
    refusal = refuse(transport, request.verb, Refusal::kHoldFull, kErrorTooManyRequests,
                     "too many requests held while the handle's PeerConnection negotiates "
                     "(max_held_per_handle = " +
                         std::to_string(config_.max_held_per_handle) +
                         ", max_held_requests = " + std::to_string(config_.max_held_requests) + ")",
                     request.transaction, request.session_id);
  }
  return verdict;
}

void Edge::forwarding(const ClientRequest& request) {
  if (request.handle_id == 0 || request.session_id == 0) return;
  const runtime::HandleKey key{request.session_id, request.handle_id};
  if (request.jsep) holds_.negotiating(key);
  if (request.candidates != 0) holds_.client_candidates(key);
}

OutboxLimits Edge::outbox_limits() const {
  return OutboxLimits{.max_messages = config_.max_queued_messages,
                      .max_bytes = config_.max_queued_bytes,
                      .send_timeout = std::chrono::milliseconds(config_.send_timeout_ms)};
}

std::optional<std::string> Edge::admit(Transport transport, const ClientRequest& request) {
  if (request.candidates == 0 || request.handle_id == 0 || request.session_id == 0) {
    return std::nullopt;
  }
  const runtime::HandleKey key{request.session_id, request.handle_id};
  const CandidateGuard::Admission admission = candidates_.reserve(key, request.candidates);
  if (admission.admitted) return std::nullopt;
  const std::uint32_t max = candidates_.policy().max_ice_candidates;
  if (admission.first_refusal) {
    log_info("handle %" PRIu64 " of session %" PRIu64
             ": a %s with %u ICE candidates refused (%u so far, max_ice_candidates = %u)%s",
             key.handle_id, key.session_id,
             std::string(kVerbNames[static_cast<int>(request.verb)]).c_str(), request.candidates,
             admission.counted, max, cuts_ != nullptr ? "; the handle is cut" : "");
    if (cuts_ != nullptr) cuts_->cut(key, admission.counted + request.candidates);
  }
  const std::string why = "too many ICE candidates: " + std::to_string(request.candidates) +
                          " more would take the handle to " +
                          std::to_string(std::uint64_t{admission.counted} + request.candidates) +
                          " (max_ice_candidates = " + std::to_string(max) + ")";
  return refuse(transport, request.verb, Refusal::kTooManyCandidates, kErrorTooManyCandidates, why,
                request.transaction, request.session_id);
}

Pending Edge::pending_for(const ClientRequest& request, Clock::time_point arrival) const {
  Pending pending;
  pending.verb = request.verb;
  pending.arrival = arrival;
  pending.key = {request.session_id, request.handle_id};
  pending.candidates = request.handle_id != 0 && request.session_id != 0 ? request.candidates : 0;
  pending.plugin = request.plugin;
  pending.jsep = request.jsep;
  return pending;
}

std::string Edge::refuse(Transport transport, Verb verb, Refusal reason, int code,
                         std::string_view why, const std::string& transaction,
                         std::uint64_t session_id) {
  metrics_.refused(reason);
  metrics_.request(transport, verb, Result::kRefused);
  return error_reply(code, why, transaction, session_id);
}

std::string Edge::invalid(Transport transport, const RequestError& error) {
  metrics_.refused(Refusal::kInvalid);
  metrics_.request(transport, Verb::kOther, Result::kError);
  return error_reply(error.code, error.reason, "", 0);
}

void Edge::answered(Transport transport, const Pending& pending, const json_t* answer) {
  const Result result = result_of(answer);
  metrics_.request(transport, pending.verb, result);
  metrics_.duration(transport, pending.verb,
                    std::chrono::duration<double>(Clock::now() - pending.arrival).count());
  if (result == Result::kError) {
    if (pending.candidates != 0) candidates_.release(pending.key, pending.candidates);
    // An offer or answer the core refused (an SDP it cannot parse, say) set no ICE up: nothing
    // negotiates, and a hangup or detach behind it need not wait for a pair.
    if (pending.jsep && pending.key.session_id != 0 && pending.key.handle_id != 0) {
      holds_.signal(pending.key, PcSignal::kHangup);
    }
    return;
  }
  switch (pending.verb) {
    case Verb::kAttach:
      if (const std::uint64_t handle = id_of(member(answer, "data"), "id");
          handle != 0 && pending.key.session_id != 0) {
        candidates_.attached({pending.key.session_id, handle}, pending.plugin);
      }
      break;
    case Verb::kHangup:
      candidates_.peerconnection_closed(pending.key);
      break;
    case Verb::kDetach:
      candidates_.detached(pending.key);
      holds_.signal(pending.key, PcSignal::kDetached);
      break;
    case Verb::kDestroy:
      candidates_.session_gone(pending.key.session_id);
      holds_.session_gone(pending.key.session_id);
      break;
    default:
      break;
  }
}

void Edge::event(const json_t* event) {
  const std::optional<std::string_view> janus = string_member(event, "janus");
  if (!janus) return;
  const std::uint64_t session = id_of(event, "session_id");
  const runtime::HandleKey key{session, id_of(event, "sender")};
  if (*janus == "hangup") {
    candidates_.peerconnection_closed(key);
    holds_.signal(key, PcSignal::kHangup);
  } else if (*janus == "detached") {
    candidates_.detached(key);
    holds_.signal(key, PcSignal::kDetached);
  } else if (*janus == "webrtcup" || *janus == "media") {
    // The first pair was selected before either (DTLS, then media, follow it).
    holds_.signal(key, PcSignal::kUp);
  } else if (*janus == "timeout") {
    candidates_.session_gone(session);
    holds_.session_gone(session);
  } else if (key.handle_id != 0 && key.session_id != 0 && json_is_object(member(event, "jsep"))) {
    // A plugin's offer (or answer) to the client: the core set up ICE for it.
    holds_.negotiating(key);
  }
}

}  // namespace jmedia::edge
