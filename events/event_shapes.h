// The JSON shapes of Janus 1.1.2's event-handler events that janus.eventhandler.media relies
// on, and pure helpers that read them. Nothing here needs the janus executable.
//
// Every event is an object {"type": T, "subtype": S (optional), "timestamp": us,
// "session_id": N (not on core/transport events), "handle_id": N (handle/webrtc/media),
// "opaque_id": "..." (optional), "emitter": "..." (optional), "event": BODY}. Shapes below were
// captured from Debian's janus 1.1.2 (tests/events/fixtures/janus-1.1.2-echo-sessions.jsonl)
// and checked against upstream v1.1.2 src/events.c, janus.c, ice.c, dtls.c, sdp.c:
//
//  1 session    {"name":"created","transport":{"transport":"janus.transport.websockets",
//                 "id":"<decimal hash of the transport instance>"}}
//               {"name":"destroyed"}  (Janus API "destroy" and admin "destroy_session")
//               {"name":"timeout"}    (session_timeout, or reclaim_session_timeout expired)
//               No event at all when a transport goes away with reclaim_session_timeout = 0:
//               the core destroys that transport's sessions silently (janus_transport_gone).
//  2 handle     {"name":"attached"|"detached","plugin":"janus.plugin.echotest",
//                 "opaque_id":..., "token":...}   ("plugin" may be absent on detach)
//  8 jsep       {"owner":"remote"|"local","jsep":{"type":"offer"|"answer","sdp":"..."}}
//               "remote": the core got the peer's SDP (janus.c, before processing it; the
//               SDP's candidates follow as remote-candidate events); "local": a plugin's SDP
//               went to the peer (janus_plugin_handle_sdp). Trickles that arrive before the
//               PeerConnection exists are queued unparsed, with no event (pending-trickles).
// 16 webrtc
//   subtype 1   {"ice":"disconnected|gathering|connecting|connected|ready|failed",
//                 "stream_id":1,"component_id":1}
//   subtype 2   {"local-candidate":"1 1 udp 2015363327 127.0.0.1 44243 typ host",...}
//   subtype 3   {"remote-candidate":"<foundation> 1 udp 2130706431 127.0.0.1 53190 typ host",
//                 "stream_id":1,"component_id":1}   ("candidate:" prefix already stripped)
//   subtype 4   {"selected-pair":"127.0.0.1:44243 [host,udp] <-> 127.0.0.1:53190 [host,udp]",
//                 "candidates":{"local":{"address","port","type","transport","family"},
//                               "remote":{...}},"stream_id":1,"component_id":1}
//                 ("candidates" only when libnice has TCP support, as Debian's does; without
//                 it "selected-pair" is "<foundation> <-> <foundation>" with no types)
//   subtype 5   {"dtls":"created|trying|connected|failed","stream_id":1,"component_id":1,
//                 "retransmissions":0}
//   subtype 6   {"connection":"webrtcup"}
//               {"connection":"hangup","reason":"Janus API"}  reasons: see kHangupReasons.
//               No hangup event when the handle is detached while its PeerConnection is up.
// 32 media
//   subtype 1   {"media":"audio","mid":"0","receiving":true,"seconds":N (optional)}
//   subtype 2   {"mid":"0","media":"video","slow_link":"uplink|downlink","lost_lastsec":N}
//   subtype 3   one object per medium (or an array of them with events.combine_media_stats):
//               {"mid":"0","mindex":0,"media":"audio|video|video-sim1|video-sim2|data",
//                "codec":"opus","base":48000,"rtt":ms (vindex 0 only; 0 = not measured yet),
//                "lost":N,"lost-by-remote":N,"jitter-local":ms,"jitter-remote":ms,
//                "packets-received":N,"packets-sent":N,"nacks-received":N,"nacks-sent":N,...}
//               Counts are cumulative for the life of the PeerConnection; "data" media carries
//               packets/bytes only.
// 128 transport {"transport":"janus.transport.websockets","id":"<same hash as above>",
//                 "data":{"event":"connected"|"disconnected","admin_api":false,"ip":"..."}}
//                 (janus.transport.http sends {"event":"request",...} per HTTP request)
// 256 core
//   subtype 1   {"status":"started","info":{... "reclaim-session-timeout":0, ...}}
//               {"status":"update","info":{"sessions":N,"handles":N,"peerconnections":N,
//                 "stats-period":5}}   Janus >= 1.2.0 only (every 15 s); 1.1.2 never sends it.
//   subtype 2   {"status":"shutdown","signum":15}
#pragma once

#include <jansson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../common/json.h"

namespace jmedia::events {

// Event types (the bits of an event handler's events_mask).
inline constexpr std::uint32_t kTypeSession = 1u << 0;
inline constexpr std::uint32_t kTypeHandle = 1u << 1;
inline constexpr std::uint32_t kTypeExternal = 1u << 2;
inline constexpr std::uint32_t kTypeJsep = 1u << 3;
inline constexpr std::uint32_t kTypeWebrtc = 1u << 4;
inline constexpr std::uint32_t kTypeMedia = 1u << 5;
inline constexpr std::uint32_t kTypePlugin = 1u << 6;
inline constexpr std::uint32_t kTypeTransport = 1u << 7;
inline constexpr std::uint32_t kTypeCore = 1u << 8;
inline constexpr std::uint32_t kAllTypes = (1u << 9) - 1;

// Subtypes.
inline constexpr int kWebrtcIce = 1;
inline constexpr int kWebrtcLocalCandidate = 2;
inline constexpr int kWebrtcRemoteCandidate = 3;
inline constexpr int kWebrtcSelectedPair = 4;
inline constexpr int kWebrtcDtls = 5;
inline constexpr int kWebrtcState = 6;
inline constexpr int kMediaState = 1;
inline constexpr int kMediaSlowLink = 2;
inline constexpr int kMediaStats = 3;
inline constexpr int kCoreStartup = 1;
inline constexpr int kCoreShutdown = 2;

// Label values. Each set is closed: anything else is reported as "other" (kOther).
inline constexpr std::string_view kOther = "other";

// Event types as label values, in bit order (index i is bit 1 << i); the names are the ones
// Janus accepts in an "events" list (janus_events_edit_events_mask).
inline constexpr std::array<std::string_view, 9> kTypeNames = {
    "sessions", "handles", "external", "jsep", "webrtc", "media", "plugins", "transports", "core"};
// The same types as the "type" label of janus_core_events_total (singular words).
inline constexpr std::array<std::string_view, 9> kTypeLabels = {
    "session", "handle", "external", "jsep", "webrtc", "media", "plugin", "transport", "core"};

inline constexpr std::array<std::string_view, 6> kIceStates = {
    "disconnected", "gathering", "connecting", "connected", "ready", "failed"};
inline constexpr std::array<std::string_view, 4> kDtlsStates = {"created", "trying", "connected",
                                                                "failed"};
inline constexpr std::array<std::string_view, 4> kCandidateTypes = {"host", "srflx", "prflx",
                                                                    "relay"};
inline constexpr std::array<std::string_view, 2> kTransports = {"udp", "tcp"};
inline constexpr std::array<std::string_view, 2> kMediaKinds = {"audio", "video"};

// Every reason the 1.1.2 core passes to janus_ice_webrtc_hangup(), and its label value.
struct HangupReason {
  std::string_view janus;
  std::string_view label;
};
inline constexpr std::array<HangupReason, 11> kHangupReasons = {{
    {"Janus API", "janus_api"},
    {"Admin API", "admin_api"},
    {"Close PC", "close_pc"},
    {"Detach", "detach"},
    {"ICE failed", "ice_failed"},
    {"Gathering error", "gathering_error"},
    {"ICE gathering error", "ice_gathering_error"},
    {"DTLS alert", "dtls_alert"},
    {"DTLS timeout", "dtls_timeout"},
    {"DTLS error", "dtls_error"},
    {"DTLS-SRTP stack error", "dtls_srtp_stack_error"},
}};

// Index of value in set, or set.size() (meaning "other") when absent.
template <std::size_t N>
constexpr std::size_t index_of(const std::array<std::string_view, N>& set, std::string_view value) {
  for (std::size_t i = 0; i < N; ++i) {
    if (set[i] == value) return i;
  }
  return N;
}

std::size_t hangup_reason_index(std::string_view janus_reason);  // kHangupReasons.size() = other
std::size_t event_type_index(std::int64_t type);                 // kTypeLabels.size() = other

// The candidate type ("typ X") of an SDP candidate attribute, with or without "candidate:".
std::optional<std::string_view> candidate_type(std::string_view candidate);

struct SelectedPair {
  std::string_view local_type;
  std::string_view remote_type;
  std::string_view transport;  // of the local candidate
};
// From "candidates" when present, else from the "selected-pair" text
// "a:p [host,udp] <-> b:q [srflx,udp]". nullopt when neither carries the types.
std::optional<SelectedPair> selected_pair(const json_t* body);

// "audio" -> 0, "video"/"video-sim1"/"video-sim2" -> 1, else nullopt ("data", unknown).
std::optional<std::size_t> media_kind(std::string_view media);
// Simulcast substream of a stats entry: "video-sim1" -> 1, "video-sim2" -> 2, else 0.
int substream(std::string_view media);

}  // namespace jmedia::events
