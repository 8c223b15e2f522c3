// What the WebSocket server and the HTTP API of janus.transport.edge share: the link to the
// core, the endpoint each janus_transport_session stands for, and the Edge itself, which admits
// a client's request (the ICE-candidate cap; the rate is each connection's own) and keeps
// its books when the core answers (metrics, handles and PeerConnections for the cap).
//
// Ownership: each transport session we create points (transport_p) at an EndpointRef, a heap
// shared_ptr to the Endpoint, deleted by the core (p_free) when it lets go of the session. The
// core may call send_message on a session from any thread, after the client left and after
// destroy(); the module reaches the endpoint only while its state is alive (ModuleSlot), and an
// endpoint whose client is gone drops what it is given.
#pragma once

#include <jansson.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "../common/janus_api.h"
#include "../common/json.h"
#include "candidate_guard.h"
#include "edge_config.h"
#include "edge_metrics.h"
#include "hold_queue.h"
#include "janus_request.h"
#include "limits.h"
#include "outbox.h"

namespace jmedia::edge {

// The core, as the edge needs it (the module implements it over janus_transport_callbacks;
// tests fake it). Every method may be called from any of the edge's threads.
class CoreLink {
 public:
  virtual ~CoreLink() = default;
  // A new transport session (reference count 1, ours) whose transport_p is transport_p, freed
  // with p_free when the last reference goes.
  virtual janus_transport_session* create_session(void* transport_p, void (*p_free)(void*)) = 0;
  // Marks it destroyed and drops our reference (janus_transport_session_destroy).
  virtual void destroy_session(janus_transport_session* session) = 0;
  // One more reference / one less (janus_refcount_*), for sessions we keep past a request.
  virtual void hold(janus_transport_session* session) = 0;
  virtual void release(janus_transport_session* session) = 0;
  // Hands request to the core (which owns it from now on); its answer comes back through
  // send_message(session, request_id, FALSE, answer).
  virtual void incoming_request(janus_transport_session* session, std::uint64_t request_id,
                                json_t* request) = 0;
  // The client behind session is gone: the core ends the Janus sessions it created.
  virtual void transport_gone(janus_transport_session* session) = 0;
  // A transport event for the event handlers ({"event":"connected"|"disconnected",...}, as
  // Janus's WebSocket transport sends them), when they are enabled. Takes event.
  virtual void notify(janus_transport_session* session, json_t* event) = 0;
  // For HTTP long polls, which the core never sees (Janus's HTTP transport checks them too).
  virtual bool api_secret_needed() = 0;
  virtual bool api_secret_valid(const char* secret) = 0;
  virtual bool auth_token_needed() = 0;
  virtual bool auth_token_valid(const char* token) = 0;
};

// Where a handle over the ICE-candidate cap is sent to be cut (hung up and detached): the
// enforcer of janus.transport.prometheus, through the runtime's ledger. Any thread, never blocks.
class CutSink {
 public:
  virtual ~CutSink() = default;
  virtual void cut(const runtime::HandleKey& key, std::uint32_t candidates) = 0;
};

// What one of our transport sessions stands for: a WebSocket connection, or one HTTP request.
class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // send_message: request_id 0 for events. Takes message. Any core thread; never blocks.
  virtual void deliver(std::uint64_t request_id, JsonPtr message) = 0;
  // session_created / session_claimed / session_over for a session of this endpoint's.
  virtual void session_created(janus_transport_session* session, std::uint64_t session_id) = 0;
  virtual void session_over(std::uint64_t session_id) = 0;
};

struct EndpointRef {
  std::shared_ptr<Endpoint> endpoint;
  static void free(void* ref) noexcept { delete static_cast<EndpointRef*>(ref); }
};

// One more reference to a transport session (CoreLink::hold), given back on destruction: what a
// held request keeps until it is forwarded, the client's own session possibly gone by then.
class SessionRef {
 public:
  SessionRef(CoreLink& core, janus_transport_session* session) : core_(core), session_(session) {
    if (session_ != nullptr) core_.hold(session_);
  }
  ~SessionRef() {
    if (session_ != nullptr) core_.release(session_);
  }
  SessionRef(const SessionRef&) = delete;
  SessionRef& operator=(const SessionRef&) = delete;
  janus_transport_session* get() const { return session_; }

 private:
  CoreLink& core_;
  janus_transport_session* const session_;
};

// A request the edge holds (hold_queue.h) and the transport session to forward it on.
struct HeldRequest {
  HeldRequest(CoreLink& core, janus_transport_session* session, ClientRequest held)
      : source(core, session), request(std::move(held)) {}
  SessionRef source;
  ClientRequest request;
};

// A forwarded request, until the core answers it.
struct Pending {
  Verb verb = Verb::kOther;
  Clock::time_point arrival{};
  runtime::HandleKey key;        // session and handle of the request
  std::uint32_t candidates = 0;  // reserved in the cap (given back if the core refuses)
  std::string plugin;            // attach
  bool jsep = false;             // a message with a jsep: it started a negotiation
};

class Edge {
 public:
  // watch: where janus.eventhandler.media reports PeerConnection phases (null: the edge's own
  // view only). Starts the hold thread.
  Edge(const EdgeConfig& config, CoreLink& core, EdgeMetrics& metrics, CandidatePolicy policy,
       CutSink* cuts, runtime::PcWatch* watch = nullptr);
  Edge(const Edge&) = delete;
  Edge& operator=(const Edge&) = delete;

  const EdgeConfig& config() const { return config_; }
  CoreLink& core() { return core_; }
  EdgeMetrics& metrics() { return metrics_; }
  CandidateGuard& candidates() { return candidates_; }
  ConnectionCounter& connections() { return connections_; }
  HoldQueue& holds() { return holds_; }
  OutboxLimits outbox_limits() const;

  // Request ids for the core, unique across the edge's connections (never 0).
  std::uint64_t next_request_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  // Checks a parsed request against the ICE-candidate cap. nullopt: forward it (its candidates
  // are reserved: keep them in the Pending); else the serialized error to answer it with
  // (counted as refused).
  std::optional<std::string> admit(Transport transport, const ClientRequest& request);
  Pending pending_for(const ClientRequest& request, Clock::time_point arrival) const;

  // Whether hold() could hold request: only then is a closure for it worth building.
  bool may_hold(const ClientRequest& request) const {
    return holds_.may_hold({request.session_id, request.handle_id}, request.verb);
  }
  // A hangup or detach of a negotiating handle, or what follows one (hold_queue.h): kHeld (counted;
  // forward taken, it runs later), kForward (forward now), or kFull (counted as refused, its
  // candidates given back; refusal: the error to answer).
  HoldQueue::Verdict hold(Transport transport, const ClientRequest& request, Clock::time_point now,
                          HoldQueue::Forward& forward, std::string& refusal);
  // Just before a request goes to the core: a message with a jsep starts a negotiation.
  void forwarding(const ClientRequest& request);

  // The edge answers a request itself: counts it; returns the serialized error.
  std::string refuse(Transport transport, Verb verb, Refusal reason, int code, std::string_view why,
                     const std::string& transaction, std::uint64_t session_id);
  // A message that is not a request (not JSON, not an object): counted under janus="other".
  std::string invalid(Transport transport, const RequestError& error);

  // The core's synchronous answer to a forwarded request: metrics, and what it tells the cap.
  void answered(Transport transport, const Pending& pending, const json_t* answer);
  // An event the core sends a client: hangups reset a handle's count, detaches forget it.
  void event(const json_t* event);
  // A Janus session ended (destroyed, timed out, claimed elsewhere, its client gone).
  void session_gone(std::uint64_t session_id) {
    candidates_.session_gone(session_id);
    holds_.session_gone(session_id);
  }

 private:
  const EdgeConfig& config_;
  CoreLink& core_;
  EdgeMetrics& metrics_;
  CandidateGuard candidates_;
  CutSink* const cuts_;
  ConnectionCounter connections_;
  std::atomic<std::uint64_t> next_id_{1};
  HoldQueue holds_;  // last: its thread stops first
};

// The request-rate guard of one connection, from the configuration.
RateGuard make_rate_guard(const EdgeConfig& config, Clock::time_point now);

}  // namespace jmedia::edge
