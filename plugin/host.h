// What janus.plugin.media needs from the Janus core, as interfaces. janus_host.cpp implements
// them over janus_callbacks and sdp-utils; unit tests fake them. The rest of the plugin never
// calls into the janus executable directly.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "../common/janus_api.h"
#include "errors.h"
#include "request.h"

namespace jmedia {

class Host {
 public:
  virtual ~Host() = default;
  // Takes its own references to event and jsep (the caller keeps and releases its own).
  virtual int push_event(janus_plugin_session* handle, const char* transaction, json_t* event,
                         json_t* jsep) = 0;
  virtual void relay_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) = 0;
  virtual void relay_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) = 0;
  virtual void relay_data(janus_plugin_session* handle, janus_plugin_data* packet) = 0;
  virtual void send_pli(janus_plugin_session* handle) = 0;
  virtual void send_remb(janus_plugin_session* handle, std::uint32_t bitrate) = 0;
  virtual void close_pc(janus_plugin_session* handle) = 0;
  // Drops the reference the core took on the janus_plugin_session for us (refcount.h).
  virtual void release_handle(janus_plugin_session* handle) = 0;
};

struct EchoAnswer {
  std::string sdp;
  bool audio = false;  // what the answer ended up accepting
  bool video = false;
  bool data = false;
};

class SdpEngine {
 public:
  virtual ~SdpEngine() = default;
  // Answers an offer so that the client gets back what it sends: the accepted kinds are
  // sendrecv (or inactive when the client only receives); kinds switched off are rejected.
  virtual std::variant<EchoAnswer, Error> echo_answer(const std::string& offer_sdp,
                                                      const MediaFlags& flags) = 0;
};

}  // namespace jmedia
