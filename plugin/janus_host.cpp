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
void JanusHost::send_pli(janus_plugin_session* handle) {
  core_->send_pli(handle);
}
void JanusHost::send_remb(janus_plugin_session* handle, std::uint32_t bitrate) {
  core_->send_remb(handle, bitrate);
}
void JanusHost::close_pc(janus_plugin_session* handle) {
  core_->close_pc(handle);
}
void JanusHost::retain_handle(janus_plugin_session* handle) {
  janus_refcount_increase(&handle->ref);
}
void JanusHost::release_handle(janus_plugin_session* handle) {
  janus_refcount_decrease(&handle->ref);
}
bool JanusHost::requests_keyframe(janus_plugin_rtcp* packet) {
  return janus_rtcp_has_pli(packet->buffer, packet->length) ||
         janus_rtcp_has_fir(packet->buffer, packet->length);
}

namespace {

struct SdpDestroy {
  void operator()(janus_sdp* sdp) const noexcept { janus_sdp_destroy(sdp); }
};
using SdpPtr = std::unique_ptr<janus_sdp, SdpDestroy>;

bool wanted(janus_sdp_mtype type, const MediaFlags& flags) {
  switch (type) {
    case JANUS_SDP_AUDIO:
      return flags.audio;
    case JANUS_SDP_VIDEO:
      return flags.video;
    case JANUS_SDP_APPLICATION:
      return flags.data;
    default:
      return false;
  }
}

enum class AnswerKind { kEcho, kPublisher };

std::variant<SdpPtr, Error> parse_offer(const std::string& offer_sdp) {
  char parse_error[512] = {0};
  SdpPtr offer(janus_sdp_parse(offer_sdp.c_str(), parse_error, sizeof parse_error));
  if (!offer) {
    return Error{ErrorCode::kInvalidSdp, std::string("could not parse the offer: ") + parse_error};
  }
  if (offer->m_lines == nullptr) return Error{ErrorCode::kInvalidSdp, "the offer has no m-lines"};
  return offer;
}

std::variant<Answer, Error> answer_offer(const std::string& offer_sdp, const MediaFlags& flags,
                                         AnswerKind kind) {
  auto parsed = parse_offer(offer_sdp);
  if (auto* error = std::get_if<Error>(&parsed)) return *error;
  SdpPtr offer = std::move(std::get<SdpPtr>(parsed));
  SdpPtr answer(janus_sdp_generate_answer(offer.get()));
  if (!answer) return Error{ErrorCode::kInvalidSdp, "could not build an answer"};
  for (GList* node = offer->m_lines; node != nullptr; node = node->next) {
    auto* m = static_cast<janus_sdp_mline*>(node->data);
    const gboolean enabled = wanted(m->type, flags) && m->port > 0 ? TRUE : FALSE;
    // A publisher only sends: answer recvonly. An echo mirrors the offer's direction.
    const janus_sdp_mdirection direction =
        kind == AnswerKind::kPublisher && m->type != JANUS_SDP_APPLICATION ? JANUS_SDP_RECVONLY
                                                                           : JANUS_SDP_DEFAULT;
    janus_sdp_generate_answer_mline(
        offer.get(), answer.get(), m, JANUS_SDP_OA_MLINE, m->type, JANUS_SDP_OA_ENABLED, enabled,
        JANUS_SDP_OA_DIRECTION, direction, JANUS_SDP_OA_ACCEPT_EXTMAP, JANUS_RTP_EXTMAP_MID,
        JANUS_SDP_OA_ACCEPT_EXTMAP, JANUS_RTP_EXTMAP_AUDIO_LEVEL, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_VIDEO_ORIENTATION, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_PLAYOUT_DELAY, JANUS_SDP_OA_ACCEPT_EXTMAP,
        JANUS_RTP_EXTMAP_TRANSPORT_WIDE_CC, JANUS_SDP_OA_DONE);
  }
  Answer result;
  for (GList* node = answer->m_lines; node != nullptr; node = node->next) {
    auto* m = static_cast<janus_sdp_mline*>(node->data);
    // An echo client that only receives gets nothing back: we never originate media.
    if (kind == AnswerKind::kEcho && m->direction == JANUS_SDP_SENDONLY) {
      m->direction = JANUS_SDP_INACTIVE;
    }
    if (m->port == 0) continue;
    if (m->type == JANUS_SDP_AUDIO) result.audio = true;
    if (m->type == JANUS_SDP_VIDEO) result.video = true;
    if (m->type == JANUS_SDP_APPLICATION) result.data = true;
  }
  if (!result.audio && !result.video && !result.data) {
    return Error{ErrorCode::kInvalidSdp, "nothing to answer: every offered m-line was rejected"};
  }
  if (kind == AnswerKind::kPublisher) {
    PublisherMedia& media = result.media;
    const char* codec = nullptr;
    if (result.audio) {
      janus_sdp_find_first_codec(answer.get(), JANUS_SDP_AUDIO, -1, &codec);
      if (codec != nullptr) {
        media.audio_codec = codec;
        media.audio_payload_type = janus_sdp_get_codec_pt(answer.get(), -1, codec);
      }
    }
    codec = nullptr;
    if (result.video) {
      janus_sdp_find_first_codec(answer.get(), JANUS_SDP_VIDEO, -1, &codec);
      if (codec != nullptr) {
        media.video_codec = codec;
        media.video_payload_type = janus_sdp_get_codec_pt(answer.get(), -1, codec);
        const char* fmtp = janus_sdp_get_fmtp(answer.get(), -1, media.video_payload_type);
        if (fmtp != nullptr) media.video_fmtp = fmtp;
      }
    }
    media.data = result.data;
  }
  GCharPtr text(janus_sdp_write(answer.get()));
  if (!text) return Error{ErrorCode::kInvalidSdp, "could not write the answer"};
  result.sdp = text.get();
  return result;
}

}  // namespace

std::variant<Answer, Error> JanusSdpEngine::echo_answer(const std::string& offer_sdp,
                                                        const MediaFlags& flags) {
  return answer_offer(offer_sdp, flags, AnswerKind::kEcho);
}

std::variant<Answer, Error> JanusSdpEngine::publisher_answer(const std::string& offer_sdp,
                                                             const MediaFlags& flags) {
  return answer_offer(offer_sdp, flags, AnswerKind::kPublisher);
}

std::variant<std::string, Error> JanusSdpEngine::viewer_offer(const PublisherMedia& media) {
  SdpPtr offer(janus_sdp_generate_offer("janus-media", "0.0.0.0", JANUS_SDP_OA_DONE));
  if (!offer) return Error{ErrorCode::kInternal, "could not create an offer"};
  if (!media.audio_codec.empty()) {
    janus_sdp_generate_offer_mline(
        offer.get(), JANUS_SDP_OA_MLINE, JANUS_SDP_AUDIO, JANUS_SDP_OA_MID, "0", JANUS_SDP_OA_PT,
        media.audio_payload_type >= 0 ? media.audio_payload_type : 111, JANUS_SDP_OA_CODEC,
        media.audio_codec.c_str(), JANUS_SDP_OA_DIRECTION, JANUS_SDP_SENDONLY,
        JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_MID, 1, JANUS_SDP_OA_DONE);
  }
  if (!media.video_codec.empty()) {
    janus_sdp_generate_offer_mline(
        offer.get(), JANUS_SDP_OA_MLINE, JANUS_SDP_VIDEO, JANUS_SDP_OA_MID, "1", JANUS_SDP_OA_PT,
        media.video_payload_type >= 0 ? media.video_payload_type : 96, JANUS_SDP_OA_CODEC,
        media.video_codec.c_str(), JANUS_SDP_OA_FMTP,
        media.video_fmtp.empty() ? nullptr : media.video_fmtp.c_str(), JANUS_SDP_OA_DIRECTION,
        JANUS_SDP_SENDONLY, JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_MID, 1, JANUS_SDP_OA_DONE);
  }
  if (media.data) {
    janus_sdp_generate_offer_mline(offer.get(), JANUS_SDP_OA_MLINE, JANUS_SDP_APPLICATION,
                                   JANUS_SDP_OA_MID, "2", JANUS_SDP_OA_DONE);
  }
  if (offer->m_lines == nullptr) return Error{ErrorCode::kNoSuchDevice, "the device sends nothing"};
  GCharPtr text(janus_sdp_write(offer.get()));
  if (!text) return Error{ErrorCode::kInternal, "could not write the offer"};
  return std::string(text.get());
}

}  // namespace jmedia
