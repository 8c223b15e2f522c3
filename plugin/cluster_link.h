// The cluster directory's listener (cluster/directory.h): what the directory thread reads of
// the plugin (its load, the devices it publishes) and tells it (a device lost to another
// node, a node gone); and the listener of this node's inbox (cluster/node_channel.h), whose
// messages the relays act on. Defined in cluster_requests.cpp. Called on the directory's and
// the inbox's threads: what it hands on must not call the directory's waiting calls (claim,
// lookup) there.
#pragma once

#include "../cluster/node_channel.h"
#include "media_plugin.h"

namespace jmedia {

class MediaPlugin::ClusterLink final : public cluster::DirectoryListener,
                                       public cluster::NodeChannelListener {
 public:
  explicit ClusterLink(MediaPlugin& plugin) : plugin_(plugin) {}

  cluster::NodeLoad load() override;
  std::vector<cluster::PublishedDevice> published() override;
  bool publishes(const std::string& device_id) override;
  void device_lost(const std::string& device_id, const std::string& holder) override;
  void node_left(const std::string& node_id) override;
  // The inbox: relay_request to the origin side (relay_origin.cpp); relay_accept,
  // relay_refuse, publisher_left and publisher_joined to the viewers' side
  // (remote_devices.cpp); relay_stop to both (each knows its own relay ids).
  void received(const cluster::NodeMessage& message) override;
  void relay_unanswered(const cluster::NodeMessage& request) override;

 private:
  MediaPlugin& plugin_;
};

}  // namespace jmedia
