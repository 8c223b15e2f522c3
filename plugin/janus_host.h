// Host and SdpEngine over the real Janus core (janus_callbacks, sdp-utils). Only the module
// links this file: it needs symbols of the janus executable.
#pragma once

#include "host.h"

namespace jmedia {

class JanusHost final : public Host {
 public:
  JanusHost(janus_callbacks* core, janus_plugin* plugin) : core_(core), plugin_(plugin) {}
  int push_event(janus_plugin_session* handle, const char* transaction, json_t* event,
                 json_t* jsep) override;
  void relay_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) override;
  void relay_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) override;
  void relay_data(janus_plugin_session* handle, janus_plugin_data* packet) override;
  void send_pli(janus_plugin_session* handle) override;
  void send_remb(janus_plugin_session* handle, std::uint32_t bitrate) override;
  void close_pc(janus_plugin_session* handle) override;
  void retain_handle(janus_plugin_session* handle) override;
  void release_handle(janus_plugin_session* handle) override;
  bool requests_keyframe(janus_plugin_rtcp* packet) override;

 private:
  janus_callbacks* const core_;
  janus_plugin* const plugin_;
};

class JanusSdpEngine final : public SdpEngine {
 public:
  std::variant<Answer, Error> echo_answer(const std::string& offer_sdp,
                                          const MediaFlags& flags) override;
  std::variant<Answer, Error> publisher_answer(const std::string& offer_sdp,
                                               const MediaFlags& flags) override;
  std::variant<std::string, Error> viewer_offer(const PublisherMedia& media) override;
};

}  // namespace jmedia
