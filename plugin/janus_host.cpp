#include "janus_host.h"

#include <memory>

#include "../common/glib_ptr.h"

namespace jmedia {

int JanusHost::push_event(janus_plugin_session* handle, const char* transaction, json_t* event,
                          json_t* jsep) {
  return core_->push_event(handle, plugin_, transaction, event, jsep);
}
void JanusHost::relay_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) {
  core_->relay_rtp(handle, packet);
}
void JanusHost::relay_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) {
  core_->relay_rtcp(handle, packet);
}
void JanusHost::relay_data(janus_plugin_session* handle, janus_plugin_data* packet) {
  core_->relay_data(handle, packet);
}
void JanusHost::send_pli(janus_plugin_session* handle) { core_->send_pli(handle); }
void JanusHost::send_remb(janus_plugin_session* handle, std::uint32_t bitrate) {
  core_->send_remb(handle, bitrate);
}
void JanusHost::close_pc(janus_plugin_session* handle) { core_->close_pc(handle); }
void JanusHost::release_handle(janus_plugin_session* handle) {
  janus_refcount_decrease(&handle->ref);
}

namespace {

struct SdpDestroy {
  void operator()(janus_sdp* sdp) const noexcept { janus_sdp_destroy(sdp); }
};
using SdpPtr = std::unique_ptr<janus_sdp, SdpDestroy>;

bool wanted(janus_sdp_mtype type, const MediaFlags& flags) {
  switch (type) {
    case JANUS_SDP_AUDIO: return flags.audio;
    case JANUS_SDP_VIDEO: return flags.video;
    case JANUS_SDP_APPLICATION: return flags.data;
    default: return false;
  }
}

}  // namespace

std::variant<EchoAnswer, Error> JanusSdpEngine::echo_answer(const std::string& offer_sdp,
                                                            const MediaFlags& flags) {
  char parse_error[512] = {0};
  SdpPtr offer(janus_sdp_parse(offer_sdp.c_str(), parse_error, sizeof parse_error));
  if (!offer) {
    return Error{ErrorCode::kInvalidSdp, std::string("could not parse the offer: ") + parse_error};
  }
  if (offer->m_lines == nullptr) {
    return Error{ErrorCode::kInvalidSdp, "the offer has no m-lines"};
  }
  SdpPtr answer(janus_sdp_generate_answer(offer.get()));
  if (!answer) return Error{ErrorCode::kInvalidSdp, "could not build an answer"};
  for (GList* node = offer->m_lines; node != nullptr; node = node->next) {
    auto* m = static_cast<janus_sdp_mline*>(node->data);
    const gboolean enabled = wanted(m->type, flags) && m->port > 0 ? TRUE : FALSE;
    janus_sdp_generate_answer_mline(
        offer.get(), answer.get(), m, JANUS_SDP_OA_MLINE, m->type, JANUS_SDP_OA_ENABLED, enabled,
        JANUS_SDP_OA_ACCEPT_EXTMAP, JANUS_RTP_EXTMAP_MID, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_AUDIO_LEVEL, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_VIDEO_ORIENTATION, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_PLAYOUT_DELAY, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_TRANSPORT_WIDE_CC, JANUS_SDP_OA_DONE);
  }
  EchoAnswer result;
  for (GList* node = answer->m_lines; node != nullptr; node = node->next) {
    auto* m = static_cast<janus_sdp_mline*>(node->data);
    // A client that only receives gets nothing back: we never originate media ourselves.
    if (m->direction == JANUS_SDP_SENDONLY) m->direction = JANUS_SDP_INACTIVE;
    if (m->port == 0) continue;
    if (m->type == JANUS_SDP_AUDIO) result.audio = true;
    if (m->type == JANUS_SDP_VIDEO) result.video = true;
    if (m->type == JANUS_SDP_APPLICATION) result.data = true;
  }
  if (!result.audio && !result.video && !result.data) {
    return Error{ErrorCode::kInvalidSdp, "nothing to echo: every offered m-line was rejected"};
  }
  GCharPtr text(janus_sdp_write(answer.get()));
  if (!text) return Error{ErrorCode::kInvalidSdp, "could not write the answer"};
  result.sdp = text.get();
  return result;
}

}  // namespace jmedia
