#include "janus_admin.h"

#include <memory>

namespace jmedia::transport {
namespace {

struct ConfigDestroy {
  void operator()(janus_config* config) const noexcept { janus_config_destroy(config); }
};

}  // namespace

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
  if (!g_file_test(out.file.c_str(), G_FILE_TEST_EXISTS)) return out;
  std::unique_ptr<janus_config, ConfigDestroy> config(janus_config_parse(out.file.c_str()));
  if (!config) return out;
  out.found = true;
  janus_config_container* general =
      janus_config_get(config.get(), nullptr, janus_config_type_category, "general");
  if (general == nullptr) return out;
  janus_config_container* item =
      janus_config_get(config.get(), general, janus_config_type_item, "admin_secret");
  if (item != nullptr && item->value != nullptr) out.secret = std::string(item->value);
  return out;
}

}  // namespace jmedia::transport
