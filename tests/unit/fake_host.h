// A fake Janus core for unit tests: records every call the plugin makes, owns fake handles.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../../plugin/host.h"

namespace jmedia::testing {

struct RelayedRtp {
  janus_plugin_session* handle;
  bool video;
  int payload_type;
  std::uint16_t seq;
  std::uint32_t timestamp;
  std::uint32_t ssrc;
};

struct PushedEvent {
  janus_plugin_session* handle;
  std::string transaction;  // "" when none
  std::string event;        // compact JSON
  std::string jsep;         // compact JSON or "null"
};

class FakeHost : public Host {
 public:
  int push_event(janus_plugin_session* handle, const char* transaction, json_t* event,
                 json_t* jsep) override;
  void relay_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) override;
  void relay_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) override;
  void relay_data(janus_plugin_session* handle, janus_plugin_data* packet) override;
  void send_pli(janus_plugin_session* handle) override;
  void send_remb(janus_plugin_session*, std::uint32_t) override { ++rembs; }
  void close_pc(janus_plugin_session* handle) override;
  void retain_handle(janus_plugin_session* handle) override;
  void release_handle(janus_plugin_session* handle) override;
  bool requests_keyframe(janus_plugin_rtcp*) override { return keyframe_rtcp.load(); }

  // A handle as the core would pass it to create_session: one reference held for the plugin.
  janus_plugin_session* new_handle();
  int references(janus_plugin_session* handle) const {
    return g_atomic_int_get(&handle->ref.count);
  }

  // Waits (bounded) until at least n events were pushed; returns a copy of them all.
  std::vector<PushedEvent> wait_events(std::size_t n, int timeout_ms = 5000);
  std::vector<PushedEvent> events();

  std::atomic<int> relayed_rtp{0}, relayed_rtcp{0}, relayed_data{0}, plis{0}, rembs{0};
  std::atomic<int> closed_pcs{0};
  // retain_handle and release_handle calls (every handle): retains must all be released.
  std::atomic<int> retains{0}, releases{0};
  std::atomic<int> push_result{0};
  // The next this many push_event calls throw (a failing core call, a bad_alloc) instead.
  std::atomic<int> push_throws{0};
  std::atomic<bool> keyframe_rtcp{false};  // what requests_keyframe answers
  // Runs first in every push_event, outside the fake's lock: lets a test hold the pushing
  // thread. Set it before the plugin runs.
  std::function<void(janus_plugin_session*)> before_push;
  std::vector<janus_plugin_session*> pli_targets();
  std::vector<RelayedRtp> relayed_to(janus_plugin_session* handle);
  // Events pushed to one handle, in order.
  std::vector<PushedEvent> events_for(janus_plugin_session* handle);

 private:
  std::mutex mutex_;
  std::vector<PushedEvent> events_;
  std::vector<janus_plugin_session*> pli_targets_;
  std::vector<RelayedRtp> relayed_;
  std::deque<janus_plugin_session> handles_;
};

class FakeSdp : public SdpEngine {
 public:
  std::variant<Answer, Error> echo_answer(const std::string& offer_sdp,
                                          const MediaFlags& flags) override;
  std::variant<Answer, Error> publisher_answer(const std::string& offer_sdp,
                                               const MediaFlags& flags) override;
  std::variant<std::string, Error> viewer_offer(const PublisherMedia& media) override;
  // Codec the fake publisher answers choose for video (tests change it to force renegotiation).
  std::string video_codec = "vp8";
  int video_payload_type = 96;
  std::atomic<int> calls{0};
  // Runs at the start of each echo/publisher answer (on the worker): lets a test hold a worker.
  std::function<void()> before_answer;
  // The same for viewer offers (computed under the session's transition mutex).
  std::function<void()> before_offer;
};

// A minimal offer the fake SDP engine accepts: m-lines named by kind.
std::string fake_offer(bool audio = true, bool video = true, bool data = true);

}  // namespace jmedia::testing
