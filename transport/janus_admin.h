// The enforcer's link to the real core (module only: it calls into the janus executable).
//
// JanusAdminGateway injects admin requests through the transport callbacks' incoming_request()
// on a janus_transport_session of its own (created at start, released at the end; the core
// keeps a reference per request in flight). The answers come back through the transport's
// send_message() with admin = TRUE and that request_id, which the module hands to its ReplyBox.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "../common/janus_api.h"
#include "candidate_enforcer.h"

namespace jmedia::transport {

class JanusAdminGateway final : public AdminGateway {
 public:
  // transport: this module's janus_transport; core: the callbacks given to init().
  JanusAdminGateway(janus_transport* transport, janus_transport_callbacks* core);
  ~JanusAdminGateway() override;
  JanusAdminGateway(const JanusAdminGateway&) = delete;
  JanusAdminGateway& operator=(const JanusAdminGateway&) = delete;

  bool inject(std::uint64_t request_id, JsonPtr request) override;
  bool ready() const { return session_ != nullptr; }

 private:
  janus_transport* const transport_;
  janus_transport_callbacks* const core_;
  janus_transport_session* session_ = nullptr;
};

// general.admin_secret of <config_path>/janus.jcfg, read with Janus's parser (the core exposes
// it through no callback). found is false when the file is missing or unparsable (janus may
// have been started with -C elsewhere); secret is empty when the file sets none (the core then
// takes admin requests without one).
struct AdminSecret {
  bool found = false;
  std::string file;
  std::optional<std::string> secret;
};
AdminSecret read_admin_secret(const char* config_path);

}  // namespace jmedia::transport
