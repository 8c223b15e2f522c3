#include "janus_link.h"

#include <cinttypes>

#include "../common/log.h"
#include "candidate_ledger.h"

namespace jmedia::edge {

janus_transport_session* JanusCoreLink::create_session(void* transport_p, void (*p_free)(void*)) {
  return janus_transport_session_create(transport_p, p_free);
}

void JanusCoreLink::destroy_session(janus_transport_session* session) {
  if (session != nullptr) janus_transport_session_destroy(session);
}

void JanusCoreLink::hold(janus_transport_session* session) {
  if (session != nullptr) janus_refcount_increase(&session->ref);
}

void JanusCoreLink::release(janus_transport_session* session) {
  if (session != nullptr) janus_refcount_decrease(&session->ref);
}

void JanusCoreLink::incoming_request(janus_transport_session* session, std::uint64_t request_id,
                                     json_t* request) {
  // The core takes over the message and the request id comes back with its answer.
  core_->incoming_request(transport_, session,
                          reinterpret_cast<void*>(static_cast<std::uintptr_t>(request_id)), FALSE,
                          request, nullptr);
}

void JanusCoreLink::transport_gone(janus_transport_session* session) {
  if (session != nullptr) core_->transport_gone(transport_, session);
}

void JanusCoreLink::notify(janus_transport_session* session, json_t* event) {
  if (core_->events_is_enabled()) {
    core_->notify_event(transport_, session, event);  // the core takes it
  } else {
    json_decref(event);
  }
}

bool JanusCoreLink::api_secret_needed() {
  return core_->is_api_secret_needed(transport_) != FALSE;
}
bool JanusCoreLink::api_secret_valid(const char* secret) {
  return core_->is_api_secret_valid(transport_, secret) != FALSE;
}
bool JanusCoreLink::auth_token_needed() {
  return core_->is_auth_token_needed(transport_) != FALSE;
}
bool JanusCoreLink::auth_token_valid(const char* token) {
  return core_->is_auth_token_valid(transport_, token) != FALSE;
}

void LedgerCutSink::cut(const runtime::HandleKey& key, std::uint32_t candidates) {
  runtime::CandidateLedger& ledger = runtime::candidate_ledger();
  if (ledger.enforced()) {
    ledger.queue_cut(key, runtime::CutReason::kTooManyCandidates, candidates);
    return;
  }
  if (!said_.exchange(true)) {
    log_info("ICE-candidate cap: handle %" PRIu64
             " is refused its candidates, but no enforcer cuts handles (janus.transport.prometheus "
             "not loaded, or candidate_cap = false): the edge only refuses, nothing over the cap "
             "reaches the core",
             key.handle_id);
  }
}

}  // namespace jmedia::edge
