#include "janus_admin.h"

#include "../common/janus_config_reader.h"

namespace jmedia::transport {

JanusAdminGateway::JanusAdminGateway(janus_transport* transport, janus_transport_callbacks* core)
    : transport_(transport), core_(core) {
  // No per-connection state: transport_p stays null and nothing needs freeing with it.
  if (transport_ != nullptr && core_ != nullptr) {
    session_ = janus_transport_session_create(nullptr, nullptr);
  }
}

JanusAdminGateway::~JanusAdminGateway() {
  // Requests still in the core hold their own reference: the session goes with the last one.
  if (session_ != nullptr) janus_transport_session_destroy(session_);
}

bool JanusAdminGateway::inject(std::uint64_t request_id, JsonPtr request) {
  if (session_ == nullptr || request == nullptr || request_id == 0) return false;
  // The core takes over the message (it is freed with the janus_request) and answers through
  // send_message(session_, request_id, TRUE, reply).
  core_->incoming_request(transport_, session_,
                          reinterpret_cast<void*>(static_cast<std::uintptr_t>(request_id)), TRUE,
                          request.release(), nullptr);
  return true;
}

AdminSecret read_admin_secret(const char* config_path) {
  AdminSecret out;
  if (config_path == nullptr) return out;
  out.file = std::string(config_path) + "/janus.jcfg";
  const std::optional<ConfigValues> values = parse_janus_config_file(out.file);
  if (!values) return out;
  out.found = true;
  if (const std::string* secret = values->find("general.admin_secret")) out.secret = *secret;
  return out;
}

}  // namespace jmedia::transport
