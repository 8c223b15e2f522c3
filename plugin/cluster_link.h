// The cluster directory's listener (cluster/directory.h): what the directory thread reads of
// the plugin (its load, the devices it publishes) and tells it (a device lost to another
// node). Defined in cluster_requests.cpp.
#pragma once

#include "media_plugin.h"

namespace jmedia {

class MediaPlugin::ClusterLink final : public cluster::DirectoryListener {
 public:
  explicit ClusterLink(MediaPlugin& plugin) : plugin_(plugin) {}

  cluster::NodeLoad load() override;
  std::vector<cluster::PublishedDevice> published() override;
  bool publishes(const std::string& device_id) override;
  void device_lost(const std::string& device_id, const std::string& holder) override;

 private:
  MediaPlugin& plugin_;
};

}  // namespace jmedia
