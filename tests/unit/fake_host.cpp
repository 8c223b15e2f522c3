#include "fake_host.h"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "../../common/json.h"

namespace jmedia::testing {

int FakeHost::push_event(janus_plugin_session* handle, const char* transaction, json_t* event,
                         json_t* jsep) {
  if (before_push) before_push(handle);
  for (int left = push_throws.load(); left > 0;) {
    if (push_throws.compare_exchange_weak(left, left - 1))
      throw std::runtime_error("fake: push_event failed");
  }
  std::lock_guard lock(mutex_);
  events_.push_back(PushedEvent{handle, transaction ? transaction : "", dump(event), dump(jsep)});
  return push_result.load();
}

void FakeHost::send_pli(janus_plugin_session* handle) {
  ++plis;
  std::lock_guard lock(mutex_);
  pli_targets_.push_back(handle);
}

std::vector<janus_plugin_session*> FakeHost::pli_targets() {
  std::lock_guard lock(mutex_);
  return pli_targets_;
}

void FakeHost::relay_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) {
  ++relayed_rtp;
  if (packet->length < 12) return;
  auto byte = [&](int i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(packet->buffer[i]));
  };
  RelayedRtp relayed{handle,
                     packet->video != FALSE,
                     static_cast<int>(byte(1) & 0x7f),
                     static_cast<std::uint16_t>((byte(2) << 8) | byte(3)),
                     (byte(4) << 24) | (byte(5) << 16) | (byte(6) << 8) | byte(7),
                     (byte(8) << 24) | (byte(9) << 16) | (byte(10) << 8) | byte(11)};
  std::lock_guard lock(mutex_);
  relayed_.push_back(relayed);
}

std::vector<RelayedRtp> FakeHost::relayed_to(janus_plugin_session* handle) {
  std::lock_guard lock(mutex_);
  std::vector<RelayedRtp> out;
  for (const auto& r : relayed_) {
    if (r.handle == handle) out.push_back(r);
  }
  return out;
}

std::vector<PushedEvent> FakeHost::events_for(janus_plugin_session* handle) {
  std::lock_guard lock(mutex_);
  std::vector<PushedEvent> out;
  for (const auto& e : events_) {
    if (e.handle == handle) out.push_back(e);
  }
  return out;
}
void FakeHost::relay_rtcp(janus_plugin_session*, janus_plugin_rtcp*) {
  ++relayed_rtcp;
}
void FakeHost::relay_data(janus_plugin_session*, janus_plugin_data*) {
  ++relayed_data;
}
void FakeHost::close_pc(janus_plugin_session*) {
  ++closed_pcs;
}
void FakeHost::retain_handle(janus_plugin_session* handle) {
  ++retains;
  g_atomic_int_inc(&handle->ref.count);
}
void FakeHost::release_handle(janus_plugin_session* handle) {
  ++releases;
  g_atomic_int_dec_and_test(&handle->ref.count);
}

janus_plugin_session* FakeHost::new_handle() {
  std::lock_guard lock(mutex_);
  janus_plugin_session& handle = handles_.emplace_back();
  handle.gateway_handle = nullptr;
  handle.plugin_handle = nullptr;
  handle.stopped = 0;
  handle.ref.count = 1;
  handle.ref.free = nullptr;
  return &handle;
}

std::vector<PushedEvent> FakeHost::wait_events(std::size_t n, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      if (events_.size() >= n) return events_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return events();
}

std::vector<PushedEvent> FakeHost::events() {
  std::lock_guard lock(mutex_);
  return events_;
}

std::string fake_offer(bool audio, bool video, bool data) {
  std::string sdp = "v=0\r\n";
  if (audio) sdp += "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  if (video) sdp += "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
  if (data) sdp += "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
  return sdp;
}

std::variant<Answer, Error> FakeSdp::echo_answer(const std::string& offer_sdp,
                                                 const MediaFlags& flags) {
  ++calls;
  if (before_answer) before_answer();
  if (offer_sdp.rfind("v=0", 0) != 0) return Error{ErrorCode::kInvalidSdp, "fake: not an SDP"};
  Answer answer;
  answer.audio = flags.audio && offer_sdp.find("m=audio") != std::string::npos;
  answer.video = flags.video && offer_sdp.find("m=video") != std::string::npos;
  answer.data = flags.data && offer_sdp.find("m=application") != std::string::npos;
  if (!answer.audio && !answer.video && !answer.data) {
    return Error{ErrorCode::kInvalidSdp, "fake: nothing to answer"};
  }
  answer.sdp = "v=0\r\nanswer\r\n";
  return answer;
}

std::variant<Answer, Error> FakeSdp::publisher_answer(const std::string& offer_sdp,
                                                      const MediaFlags& flags) {
  auto answered = echo_answer(offer_sdp, flags);
  if (auto* answer = std::get_if<Answer>(&answered)) {
    if (answer->audio) answer->media.audio_codec = "opus";
    answer->media.audio_payload_type = 111;
    if (answer->video) answer->media.video_codec = video_codec;
    answer->media.video_payload_type = video_payload_type;
    answer->media.data = answer->data;
  }
  return answered;
}

std::variant<std::string, Error> FakeSdp::viewer_offer(const PublisherMedia& media) {
  ++calls;
  if (before_offer) before_offer();
  return "v=0\r\noffer " + media.audio_codec + " " + media.video_codec + "\r\n";
}

}  // namespace jmedia::testing
