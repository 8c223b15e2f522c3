// What janus.plugin.media needs from the Janus core, as interfaces. janus_host.cpp implements
// them over janus_callbacks, sdp-utils and rtcp.h; unit tests fake them. The rest of the
// plugin never calls into the janus executable directly.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "../common/janus_api.h"
#include "publisher_media.h"
#include "errors.h"
#include "types.h"

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
  // Takes one more reference on the janus_plugin_session (refcount.h), for an object that
  // relays to the handle and may outlive the session that owns the core's reference
  // (HandleRef).
  virtual void retain_handle(janus_plugin_session* handle) = 0;
  // Drops a reference: the one the core took for us, or one retain_handle took.
  virtual void release_handle(janus_plugin_session* handle) = 0;
  // RTCP inspection: does the packet ask for a keyframe (PLI or FIR)?
  virtual bool requests_keyframe(janus_plugin_rtcp* packet) = 0;
};

// An answer to an offer, and what it accepted.
struct Answer {
  std::string sdp;
  bool audio = false;
  bool video = false;
  bool data = false;
  PublisherMedia media;  // the codecs negotiated (publisher answers)
};

class SdpEngine {
 public:
  virtual ~SdpEngine() = default;
  // Echo: accepted kinds are answered sendrecv (inactive when the client only receives);
  // kinds switched off are rejected.
  virtual std::variant<Answer, Error> echo_answer(const std::string& offer_sdp,
                                                  const MediaFlags& flags) = 0;
  // Publisher: accepted kinds are answered recvonly; media tells the codecs chosen.
  virtual std::variant<Answer, Error> publisher_answer(const std::string& offer_sdp,
                                                       const MediaFlags& flags) = 0;
  // Viewer: a sendonly offer with the publisher's codecs and payload types.
  virtual std::variant<std::string, Error> viewer_offer(const PublisherMedia& media) = 0;
};

}  // namespace jmedia
