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

Edge::Edge(const EdgeConfig& config, CoreLink& core, EdgeMetrics& metrics, CandidatePolicy policy,
           CutSink* cuts)
    : config_(config),
      core_(core),
      metrics_(metrics),
      candidates_(policy),
      cuts_(cuts),
      connections_(config.max_connections, config.max_connections_per_ip) {}

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
      break;
    case Verb::kDestroy:
      candidates_.session_gone(pending.key.session_id);
      break;
    default:
      break;
  }
}

void Edge::event(const json_t* event) {
  const std::optional<std::string_view> janus = string_member(event, "janus");
  if (!janus) return;
  const std::uint64_t session = id_of(event, "session_id");
  if (*janus == "hangup") {
    candidates_.peerconnection_closed({session, id_of(event, "sender")});
  } else if (*janus == "detached") {
    candidates_.detached({session, id_of(event, "sender")});
  } else if (*janus == "timeout") {
    candidates_.session_gone(session);
  }
}

}  // namespace jmedia::edge
