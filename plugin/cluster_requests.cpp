// The plugin's side of the cluster directory (cluster/directory.h): publish claims its device
// cluster-wide, watch of a device published elsewhere goes through this node's relay of it
// (remote_devices.cpp), "devices" with "scope":"cluster" lists every node's devices from the
// directory, and a device this node lost to another (claimed there while Redis was unreachable
// from here) has its local publisher ended. A device relayed here from another node is not
// this node's publication: never claimed, listed or lost here. README, "Scale-out".
#include "../common/log.h"
#include "cluster_link.h"
#include "media_plugin.h"
#include "relay_origin.h"
#include "remote_relays.h"

namespace jmedia {

cluster::NodeLoad MediaPlugin::ClusterLink::load() {
  return cluster::NodeLoad{plugin_.sessions_.active(), plugin_.sessions_.role_count(Role::kViewer)};
}

std::vector<cluster::PublishedDevice> MediaPlugin::ClusterLink::published() {
  std::vector<cluster::PublishedDevice> devices;
  std::string after;
  for (;;) {
    auto [page, more] = plugin_.devices_.page_devices(after, 1000);
    for (const auto& device : page) {
      if (const auto producer = device->producer(); producer && !producer->origin_node()) {
        devices.push_back(cluster::PublishedDevice{device->id(), device->viewer_count()});
      }
    }
    if (!more || page.empty()) break;
    after = page.back()->id();
  }
  return devices;
}

bool MediaPlugin::ClusterLink::publishes(const std::string& device_id) {
  auto device = plugin_.devices_.find(device_id);
  const auto producer = device ? device->producer() : nullptr;
  return producer && !producer->origin_node();
}

void MediaPlugin::ClusterLink::device_lost(const std::string& device_id,
                                           const std::string& holder) {
  plugin_.device_lost(device_id, holder);
}

void MediaPlugin::ClusterLink::node_left(const std::string& node_id) {
  plugin_.origin_node_left(node_id);
  plugin_.remote_node_left(node_id);
}

void MediaPlugin::ClusterLink::received(const cluster::NodeMessage& message) {
  switch (message.type) {
    case cluster::MessageType::kRelayRequest:
      plugin_.origin_received(message);
      return;
    case cluster::MessageType::kRelayStop:
      plugin_.origin_received(message);
      plugin_.remote_received(message);
      return;
    case cluster::MessageType::kRelayAccept:
    case cluster::MessageType::kRelayRefuse:
    case cluster::MessageType::kPublisherLeft:
    case cluster::MessageType::kPublisherJoined:
      plugin_.remote_received(message);
      return;
  }
}

void MediaPlugin::ClusterLink::relay_unanswered(const cluster::NodeMessage& request) {
  plugin_.remote_unanswered(request);
}

void MediaPlugin::start_cluster() {
  const cluster::ClusterConfig& config = config_.cluster;
  cluster::DirectoryOptions options;
  options.redis = config.redis;
  options.password = config.redis_password;
  options.node_id = config.node_id;
  options.api_url = config.api_url;
  options.heartbeat = std::chrono::milliseconds(config.heartbeat_ms);
  options.node_ttl = std::chrono::milliseconds(config.node_ttl_ms);
  options.secret = config.secret;
  relay_loop_ = std::make_unique<cluster::RelayLoop>();
  remote_ = std::make_unique<RemoteRelays>(*this);
  origin_ = std::make_unique<RelayOrigin>(*relay_loop_, devices_, config);
  cluster_link_ = std::make_unique<ClusterLink>(*this);
  directory_ =
      std::make_unique<cluster::Directory>(std::move(options), *cluster_link_, cluster_link_.get());
  origin_->set_channel(directory_->channel());
  log_info("cluster: node '%s' joins the directory at redis %s", config.node_id.c_str(),
           config.redis.text().c_str());
}

std::variant<bool, Error> MediaPlugin::claim_in_cluster(const std::string& device_id) {
  if (!directory_) return false;
  // Published here already: the local registry answers 1014, and the claim is this node's.
  // A device relayed from another node is not: the directory decides.
  auto device = devices_.find(device_id);
  const auto producer = device ? device->producer() : nullptr;
  if (producer && !producer->origin_node()) return false;
  const auto claim = directory_->claim(device_id);
  switch (claim.result) {
    case cluster::Directory::ClaimResult::kClaimed:
      if (producer) {
        // Ours now (the origin is gone): the local publisher takes over from the relay, whose
        // viewers stay (a hand-over); the relay itself ends on the remote relays' thread.
        devices_.release_producer(device, producer.get());
        remote_->local_takes_over(device_id);
      }
      return true;
    case cluster::Directory::ClaimResult::kTaken:
      return Error{
          ErrorCode::kDeviceBusy,
          "device '" + device_id + "' has a publisher already, on node '" + claim.holder + "'"};
    case cluster::Directory::ClaimResult::kUnavailable:
      log_verbose(
          "cluster: device %s published while the directory cannot be reached: accepted here, "
          "claimed when it is back",
          device_id.c_str());
      return false;
  }
  return false;
}

std::optional<Error> MediaPlugin::watch_elsewhere(const std::string& device_id,
                                                  std::shared_ptr<void>& hold) {
  const auto not_publishing =
      Error{ErrorCode::kNoSuchDevice, "device '" + device_id + "' is not publishing"};
  if (!directory_) return not_publishing;
  const auto unavailable =
      Error{ErrorCode::kClusterUnavailable,
            "device '" + device_id +
                "' is not published on this node, and the cluster directory cannot be reached to "
                "find it on another"};
  if (!directory_->redis_up()) return unavailable;
  const auto found = directory_->lookup(device_id);
  if (!found.available) return unavailable;
  if (found.holder.empty() || found.holder == directory_->node_id()) return not_publishing;
  return remote_->wait_ready(device_id, found.holder, hold);
}

JsonPtr MediaPlugin::cluster_devices_page(const DevicesRequest& request,
                                          const Grants* grants) const {
  if (!directory_) {
    return error_reply(Error{ErrorCode::kClusterUnavailable,
                             "this node is not part of a cluster (no cluster.redis)"});
  }
  if (grants != nullptr && !request.cursor.empty() && !grants->shows(request.cursor)) {
    return error_reply(Error{ErrorCode::kInvalidField,
                             "'cursor' must be the next_cursor of the previous page: a device "
                             "the token covers"});
  }
  // The view of the last heartbeat: no Redis call on the caller's (Janus's) thread.
  const auto view = directory_->view();
  if (!view) {
    return error_reply(Error{
        ErrorCode::kClusterUnavailable,
        "the cluster directory (redis " + config_.cluster.redis.text() + ") cannot be reached"});
  }
  JsonPtr reply = adopt(json_object());
  set_unchecked(reply.get(), "media", "devices");
  set_unchecked(reply.get(), "scope", "cluster");
  set_unchecked(reply.get(), "node_id", directory_->node_id());  // validated at load
  JsonPtr nodes = adopt(json_array());
  for (const auto& node : view->nodes) {
    JsonPtr record = adopt(json_loads(node.record.c_str(), 0, nullptr));
    if (!json_is_object(record.get())) {
      record = adopt(json_object());
      set(record.get(), "node_id", node.node_id);
    }
    json_array_append_new(nodes.get(), record.release());
  }
  set_unchecked(reply.get(), "nodes", std::move(nodes));
  JsonPtr devices = adopt(json_array());
  std::size_t taken = 0;
  bool more = false;
  std::string last;
  for (const auto& entry : view->devices) {
    if (!request.cursor.empty() && entry.device_id <= request.cursor) continue;
    if (grants != nullptr && !grants->shows(entry.device_id)) continue;
    if (taken == request.limit) {
      more = true;
      break;
    }
    JsonPtr device = adopt(json_object());
    // Read back from Redis: checked as anything from outside the process.
    set(device.get(), "device_id", entry.device_id);
    set(device.get(), "node_id", entry.node_id);
    set_unchecked(device.get(), "publishing", true);
    set_unchecked(device.get(), "viewers", static_cast<std::uint64_t>(entry.viewers));
    json_array_append_new(devices.get(), device.release());
    last = entry.device_id;
    ++taken;
  }
  set_unchecked(reply.get(), "devices", std::move(devices));
  if (more) {
    set(reply.get(), "next_cursor", std::string_view(last));
  } else {
    set_null_unchecked(reply.get(), "next_cursor");
  }
  return reply;
}

void MediaPlugin::device_lost(const std::string& device_id, const std::string& holder) {
  auto device = devices_.find(device_id);
  auto producer = device ? device->producer() : nullptr;
  SessionPtr publisher = producer ? session_of(producer->session_handle()) : nullptr;
  if (!publisher || publisher->destroyed()) return;
  log_warn("cluster: device %s: node '%s' holds it in the directory: ending publisher %s here",
           device_id.c_str(), holder.c_str(), publisher->id().c_str());
  // As a kick: the client is told why (1014), then its PeerConnection closes.
  push_error(publisher, "",
             Error{ErrorCode::kDeviceBusy,
                   "device '" + device_id + "' is published on node '" + holder +
                       "', which claimed it while this node could not reach the cluster "
                       "directory: this publisher is ended"});
  const SessionState state = publisher->state();
  if (state == SessionState::kUp || state == SessionState::kNegotiating) {
    publisher->set_pending_end(EndReason::kDeviceBusy);
    host_.close_pc(publisher->handle());
  }
  if (state != SessionState::kUp) end_role_and_tell(publisher, EndReason::kDeviceBusy);
}

}  // namespace jmedia
