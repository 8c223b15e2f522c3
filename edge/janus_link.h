// The edge's links to the real core (module only: they call into the janus executable): the
// CoreLink over the transport callbacks given to init(), and the CutSink over the runtime's
// ICE-candidate ledger (whose enforcer, in janus.transport.prometheus, cuts the handle).
#pragma once

#include "../common/janus_api.h"
#include "edge.h"

namespace jmedia::edge {

class JanusCoreLink final : public CoreLink {
 public:
  JanusCoreLink(janus_transport* transport, janus_transport_callbacks* core)
      : transport_(transport), core_(core) {}

  janus_transport_session* create_session(void* transport_p, void (*p_free)(void*)) override;
  void destroy_session(janus_transport_session* session) override;
  void hold(janus_transport_session* session) override;
  void release(janus_transport_session* session) override;
  void incoming_request(janus_transport_session* session, std::uint64_t request_id,
                        json_t* request) override;
  void transport_gone(janus_transport_session* session) override;
  void notify(janus_transport_session* session, json_t* event) override;
  bool api_secret_needed() override;
  bool api_secret_valid(const char* secret) override;
  bool auth_token_needed() override;
  bool auth_token_valid(const char* token) override;

 private:
  janus_transport* const transport_;
  janus_transport_callbacks* const core_;
};

// Hands a handle the edge refused for its candidates to the enforcer, when one runs; says once
// when none does (the requests are still refused: nothing over the cap reaches the core).
class LedgerCutSink final : public CutSink {
 public:
  void cut(const runtime::HandleKey& key, std::uint32_t candidates) override;

 private:
  std::atomic<bool> said_{false};
};

}  // namespace jmedia::edge
