// This node's viewers of devices published on other nodes, each device through one inbound
// relay from its origin (README, "Scale-out"). Not built yet: a watch of such a device is
// refused (1023, watch_elsewhere), and what arrives is logged and dropped.
#include "../common/log.h"
#include "media_plugin.h"

namespace jmedia {

void MediaPlugin::remote_received(const cluster::NodeMessage& message) {
  log_verbose("cluster: %s from node '%s' (device %s) dropped: no remote device here",
              cluster::message_type_name(message.type), message.from_node.c_str(),
              message.device_id.c_str());
}

void MediaPlugin::remote_unanswered(const cluster::NodeMessage& request) {
  log_verbose("cluster: relay request %s (device %s) unanswered", request.relay_id.c_str(),
              request.device_id.c_str());
}

void MediaPlugin::remote_node_left(const std::string& /*node_id*/) {}

RelayTotals MediaPlugin::remote_relay_totals() const {
  return {};
}

}  // namespace jmedia
