// The source of a device's media (Device is the router): a local publisher (LocalPublisher)
// or an inbound relay from another node (InboundRelay). Media goes in through
// Device::route_rtp/route_data, called with the producer by whichever thread receives it;
// what flows back to the producer from the device's consumers is its interface here.
#pragma once

#include <string>

#include "../common/janus_api.h"

namespace jmedia {

class Producer {
 public:
  virtual ~Producer() = default;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // A consumer asks for a keyframe (through Device::request_keyframe). new_consumer: one whose
  // media just came up, which decodes nothing until the next keyframe: never held back by a
  // rate limit. Any thread.
  virtual void request_keyframe(bool new_consumer) = 0;
  // The Janus handle of the local session this producer serves; null when it is none (a
  // relay). What the plugin maps back to a session with its session table, for listings,
  // kicks and events: the producer itself never reaches a session.
  virtual janus_plugin_session* session_handle() const { return nullptr; }
  // The node the media comes from when it is another one's (an inbound relay); null for a
  // producer of this node. What keeps a relayed device out of this node's publications (the
  // directory's claims, relays to further nodes) and names its node in listings.
  virtual const std::string* origin_node() const { return nullptr; }

 protected:
  Producer() = default;
};

}  // namespace jmedia
