// janus.plugin.media's media path on arbitrary packets: incoming_rtp / incoming_rtcp /
// incoming_data of a publisher with viewers (started and not), of an echo session and of idle
// and detached handles, with the publisher handing over to another one (the viewers'
// RtpRewriter sees a new source) and kinds switched off and on; plus RtpRewriter::rewrite
// itself against its contract. Binary input:
//   byte 0       setup: bit 0/1/2 the publisher offers audio/video/data, bit 3 the second
//                viewer is started too, bit 4 viewers' RTCP asks for keyframes
//   then records [op][length][length bytes]:
//     op & 7 = 0/1  RTP audio/video from slot (op >> 3) % 6
//              2/3  RTCP audio/video from slot (op >> 3) % 6
//              4    data from slot (op >> 3) % 6
//              5    control (op >> 3) % 8: video off/on at the publisher, audio off at a
//                   viewer, publisher hand-over, viewer re-attached, keyframe RTCP toggled,
//                   second viewer started, a packet on a detached handle
//              6/7  RtpRewriter::rewrite of the bytes (7: with a payload type set)
// Checks: the core's packet is left as it came (header restored after each viewer, mindex
// restored); each viewer sees one SSRC per kind; the rewriter keeps SSRC, payload type,
// marker, payload and sequence/timestamp continuity across source changes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../plugin/rtp_rewriter.h"
#include "fuzz_util.h"
#include "plugin_rig.h"

namespace {

using jmedia::RtpRewriter;
using jmedia::fuzz::PluginRig;

constexpr std::size_t kPublisher = 0, kViewer = 1, kSecondViewer = 2, kEcho = 3, kSpare = 4;
constexpr std::size_t kMaxRecords = 256;
constexpr std::string_view kOffer =
    R"({"type":"offer","sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"})";
constexpr std::string_view kAnswer = R"({"type":"answer","sdp":"v=0\r\nm=audio 9 UDP\r\n"})";

std::uint16_t read16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t read32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// RtpRewriter's contract, checked from the outside.
class RewriterModel {
 public:
  RewriterModel() : rewriter_(0x5eed5eed, 3000) {}

  void rewrite(const unsigned char* bytes, std::size_t length, bool with_payload_type) {
    if (with_payload_type) {
      payload_type_ = length > 0 ? bytes[0] & 0x7f : 96;
      rewriter_.set_payload_type(payload_type_);
    }
    std::unique_ptr<char[]> packet(new char[length]);
    if (length > 0) std::memcpy(packet.get(), bytes, length);
    const bool rewritten = rewriter_.rewrite(packet.get(), length);
    if (length < 12) {
      FUZZ_CHECK(!rewritten, "a %zu-byte packet was rewritten", length);
      FUZZ_CHECK(length == 0 || std::memcmp(packet.get(), bytes, length) == 0,
                 "a short packet was modified");
      return;
    }
    FUZZ_CHECK(rewritten, "a %zu-byte packet was not rewritten", length);
    const auto* out = reinterpret_cast<const unsigned char*>(packet.get());
    FUZZ_CHECK(read32(out + 8) == 0x5eed5eed, "output SSRC %08x", read32(out + 8));
    FUZZ_CHECK(out[0] == bytes[0], "byte 0 (version, CSRC count) changed");
    FUZZ_CHECK((out[1] & 0x80) == (bytes[1] & 0x80), "marker bit changed");
    FUZZ_CHECK((out[1] & 0x7f) == (payload_type_ >= 0 ? payload_type_ : (bytes[1] & 0x7f)),
               "payload type %d", out[1] & 0x7f);
    FUZZ_CHECK(std::memcmp(out + 12, bytes + 12, length - 12) == 0, "payload changed");
    const std::uint16_t in_seq = read16(bytes + 2), out_seq = read16(out + 2);
    const std::uint32_t in_ts = read32(bytes + 4), out_ts = read32(out + 4);
    const std::uint32_t ssrc = read32(bytes + 8);
    if (!started_) {
      FUZZ_CHECK(out_seq == in_seq && out_ts == in_ts, "the first source was shifted");
    } else if (ssrc != source_) {
      FUZZ_CHECK(out_seq == static_cast<std::uint16_t>(newest_seq_ + 1),
                 "new source: seq %u after %u", out_seq, newest_seq_);
      FUZZ_CHECK(out_ts == newest_ts_ + 3000, "new source: timestamp %u after %u", out_ts,
                 newest_ts_);
    } else {
      FUZZ_CHECK(static_cast<std::uint16_t>(out_seq - in_seq) == seq_offset_ &&
                     out_ts - in_ts == ts_offset_,
                 "offsets changed within one source");
    }
    if (!started_ || static_cast<std::int16_t>(out_seq - newest_seq_) > 0) {
      newest_seq_ = out_seq;
      newest_ts_ = out_ts;
    }
    started_ = true;
    source_ = ssrc;
    seq_offset_ = static_cast<std::uint16_t>(out_seq - in_seq);
    ts_offset_ = out_ts - in_ts;
  }

 private:
  RtpRewriter rewriter_;
  int payload_type_ = -1;
  bool started_ = false;
  std::uint32_t source_ = 0;
  std::uint16_t newest_seq_ = 0, seq_offset_ = 0;
  std::uint32_t newest_ts_ = 0, ts_offset_ = 0;
};

class MediaRun {
 public:
  explicit MediaRun(std::uint8_t setup) {
    std::string flags = std::string(R"(,"audio":)") + (setup & 1 ? "true" : "false") +
                        R"(,"video":)" + (setup & 2 ? "true" : "false") + R"(,"data":)" +
                        (setup & 4 ? "true" : "false") + "}";
    publish_body_ = R"({"request":"publish","device_id":"cam")" + flags;
    rig_.message(kPublisher, publish_body_, kOffer);
    rig_.setup_media(kPublisher);
    watch(kViewer, true);
    watch(kSecondViewer, setup & 8);
    rig_.message(kEcho, R"({"request":"echo"})", kOffer);
    rig_.setup_media(kEcho);
    rig_.host().keyframe_rtcp = (setup & 16) != 0;
  }

  void record(std::uint8_t op, const unsigned char* bytes, std::size_t length) {
    const std::size_t slot = (op >> 3) % PluginRig::kHandles;
    switch (op & 7) {
      case 0:
      case 1:
        rtp(rig_.handle(slot), op & 1, bytes, length, op >> 6);
        break;
      case 2:
      case 3: {
        std::unique_ptr<char[]> buffer = copy(bytes, length);
        janus_plugin_rtcp packet{};
        packet.mindex = 0;
        packet.video = (op & 1) ? TRUE : FALSE;
        packet.buffer = buffer.get();
        packet.length = static_cast<std::uint16_t>(length);
        rig_.plugin().incoming_rtcp(rig_.handle(slot), &packet);
        break;
      }
      case 4: {
        std::unique_ptr<char[]> buffer = copy(bytes, length);
        char label[] = "jmedia";
        janus_plugin_data packet{};
        packet.label = label;
        packet.binary = (op & 0x40) ? TRUE : FALSE;
        packet.buffer = buffer.get();
        packet.length = static_cast<std::uint16_t>(length);
        rig_.plugin().incoming_data(rig_.handle(slot), &packet);
        FUZZ_CHECK(length == 0 || std::memcmp(buffer.get(), bytes, length) == 0,
                   "incoming_data changed the core's buffer");
        break;
      }
      case 5:
        control((op >> 3) % 8, bytes, length);
        break;
      default:
        model_.rewrite(bytes, length, (op & 7) == 7);
        break;
    }
  }

  void finish() {
    check_ssrcs();
    rig_.finish();
  }

 private:
  static std::unique_ptr<char[]> copy(const unsigned char* bytes, std::size_t length) {
    std::unique_ptr<char[]> buffer(new char[length]);
    if (length > 0) std::memcpy(buffer.get(), bytes, length);
    return buffer;
  }

  void watch(std::size_t slot, bool start) {
    rig_.message(slot, R"({"request":"watch","device_id":"cam"})", "");
    if (!start) return;
    rig_.message(slot, R"({"request":"start"})", kAnswer);
    rig_.setup_media(slot);
  }

  void rtp(janus_plugin_session* handle, bool video, const unsigned char* bytes, std::size_t length,
           int mindex) {
    std::unique_ptr<char[]> buffer = copy(bytes, length);
    janus_plugin_rtp packet{};
    packet.mindex = mindex;
    packet.video = video ? TRUE : FALSE;
    packet.buffer = buffer.get();
    packet.length = static_cast<std::uint16_t>(length);
    rig_.plugin().incoming_rtp(handle, &packet);
    FUZZ_CHECK(packet.mindex == mindex, "incoming_rtp left mindex %d (was %d)", packet.mindex,
               mindex);
    FUZZ_CHECK(packet.buffer == buffer.get() && packet.length == length,
               "incoming_rtp replaced the core's buffer");
    FUZZ_CHECK(length == 0 || std::memcmp(buffer.get(), bytes, length) == 0,
               "incoming_rtp left the core's packet rewritten");
  }

  void control(int what, const unsigned char* bytes, std::size_t length) {
    switch (what) {
      case 0:
      case 1:
        rig_.message(publisher_,
                     what ? R"({"request":"configure","video":true})"
                          : R"({"request":"configure","video":false})",
                     "");
        break;
      case 2:
        rig_.message(kViewer, R"({"request":"configure","audio":false})", "");
        break;
      case 3: {  // hand-over: the publisher goes, another handle publishes the device
        const std::size_t next = publisher_ == kPublisher ? kSpare : kPublisher;
        rig_.hangup_media(publisher_);
        detach(publisher_);
        rig_.message(next, publish_body_, kOffer);
        rig_.setup_media(next);
        publisher_ = next;
        break;
      }
      case 4:  // the viewer goes and comes back on a new handle
        rig_.hangup_media(kViewer);
        detach(kViewer);
        watch(kViewer, true);
        break;
      case 5:
        rig_.host().keyframe_rtcp = !rig_.host().keyframe_rtcp.load();
        break;
      case 6:
        rig_.message(kSecondViewer, R"({"request":"start"})", kAnswer);
        rig_.setup_media(kSecondViewer);
        break;
      default:  // the core does not call back on a detached handle; if it did, nothing happens
        if (viewed_.empty()) break;
        rtp(viewed_.back(), length & 1, bytes, length, 0);
        break;
    }
  }

  // Each viewer handle sees one SSRC per kind, whatever the publishers did.
  void check_ssrcs() {
    for (std::size_t slot = 0; slot < PluginRig::kHandles; ++slot) forget(slot);
    for (janus_plugin_session* handle : viewed_) {
      std::map<bool, std::uint32_t> ssrc;
      for (const auto& relayed : rig_.host().relayed_to(handle)) {
        auto [it, first] = ssrc.emplace(relayed.video, relayed.ssrc);
        if (handle == echo_handle_) continue;
        FUZZ_CHECK(first || it->second == relayed.ssrc, "a viewer saw SSRC %08x then %08x",
                   it->second, relayed.ssrc);
      }
    }
  }
  void detach(std::size_t slot) {
    forget(slot);
    rig_.detach(slot);
  }
  void forget(std::size_t slot) {
    if (slot == kEcho) {
      echo_handle_ = rig_.handle(slot);
      return;
    }
    viewed_.push_back(rig_.handle(slot));
  }

  PluginRig rig_;
  RewriterModel model_;
  std::string publish_body_;
  std::size_t publisher_ = kPublisher;
  std::vector<janus_plugin_session*> viewed_;
  janus_plugin_session* echo_handle_ = nullptr;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  MediaRun run(data[0]);
  std::size_t at = 1;
  for (std::size_t records = 0; at + 2 <= size && records < kMaxRecords; ++records) {
    const std::uint8_t op = data[at];
    const std::size_t length = std::min<std::size_t>(data[at + 1], size - at - 2);
    run.record(op, data + at + 2, length);
    at += 2 + length;
  }
  run.finish();
  return 0;
}
