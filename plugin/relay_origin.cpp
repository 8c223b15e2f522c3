// This node as the origin of relays: a device published here, watched by viewers on other
// nodes, gets one outbound relay per such node (README, "Scale-out"). Not built yet: what
// arrives is logged and dropped, so the asking node's request goes unanswered.
#include "../common/log.h"
#include "media_plugin.h"

namespace jmedia {

void MediaPlugin::origin_received(const cluster::NodeMessage& message) {
  log_verbose("cluster: %s from node '%s' (device %s) dropped: this node relays nothing yet",
              cluster::message_type_name(message.type), message.from_node.c_str(),
              message.device_id.c_str());
}

void MediaPlugin::origin_node_left(const std::string& /*node_id*/) {}

RelayTotals MediaPlugin::origin_relay_totals() const {
  return {};
}

}  // namespace jmedia
