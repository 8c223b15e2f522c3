// What janus.plugin.media does with SDP, outside Janus's own SDP code (which lives in the
// janus executable and cannot be linked here: see fuzz/README.md). The input is a JSEP (JSON
// text, parsed with JSON_ALLOW_NUL so that SDPs with NUL bytes get through), optionally after
// lines that program the SDP engine's answers (the 'A' lines of plugin_rig.h: which kinds it
// accepts, codec names, payload types, fmtp, the answer text):
//   Aav\topus\t111\tvp8\t96\t\tv=0 ...
//   {"type":"offer","sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}
// That JSEP goes through parse_client_request's JSEP validation for every request, then with
// every request that carries SDP through the plugin, in every state that takes one: echo and
// its renegotiation, publish, a publisher's renegotiation, a second publisher of a device
// with viewers (new codecs: the viewers get a new offer), start, and requests that take no
// JSEP. The SDP the engine is asked to answer must always be the JSEP's, byte for byte.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_util.h"
#include "plugin_rig.h"

namespace {

using jmedia::JsonPtr;
using jmedia::fuzz::parse_json;
using jmedia::fuzz::PluginRig;

constexpr const char* kBodies[] = {
    R"({"request":"echo"})",
    R"({"request":"echo","audio":false,"video":true,"data":false})",
    R"({"request":"publish","device_id":"cam-1"})",
    R"({"request":"publish","device_id":"cam 1"})",
    R"({"request":"watch","device_id":"cam-1"})",
    R"({"request":"start"})",
    R"({"request":"configure"})",
    R"({"request":"configure","video":false,"bitrate":64000,"keyframe":true})",
    R"({"request":"hangup"})",
    R"({"request":"list"})",
    R"({"request":"info","media_session":"0"})",
    R"({"request":"devices"})",
    R"({"request":"offer"})",
};

JsonPtr copy(const JsonPtr& jsep) {
  return jsep ? jmedia::retain(jsep.get()) : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  PluginRig rig;
  for (std::size_t programs = 0; !input.empty() && input[0] == 'A' && programs < 16; ++programs) {
    const std::size_t end = input.find('\n');
    rig.sdp().queue(jmedia::fuzz::parse_programmed_answer(input.substr(1, end - 1)));
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
  }
  const JsonPtr jsep = parse_json(input, JSON_ALLOW_NUL);

  for (const char* body : kBodies) {
    JsonPtr request = parse_json(body);
    jmedia::fuzz::check_client_parse(request.get(), jsep.get());
  }

  auto send = [&](std::size_t slot, const char* body, bool with_jsep = true) {
    rig.message(slot, parse_json(body), with_jsep ? copy(jsep) : nullptr);
  };
  // echo, then its renegotiation
  send(0, kBodies[0]);
  rig.setup_media(0);
  send(0, kBodies[6]);
  send(0, kBodies[7]);
  // a publisher with a viewer (the viewer's watch takes no JSEP: with one it is refused)
  send(1, kBodies[2]);
  rig.setup_media(1);
  send(2, kBodies[4]);
  send(2, kBodies[4], false);
  send(2, kBodies[5]);
  rig.setup_media(2);
  send(1, kBodies[6]);  // publisher renegotiation
  send(2, kBodies[6]);  // a viewer cannot renegotiate with configure
  send(3, kBodies[2]);  // the device is busy
  send(1, kBodies[8]);
  rig.hangup_media(1);
  send(3, kBodies[2]);  // a new publisher for the viewer: new codecs, new offer
  send(2, kBodies[5]);
  send(4, kBodies[1]);
  send(5, kBodies[3]);
  send(5, kBodies[9]);

  const json_t* sdp = json_is_object(jsep.get()) ? json_object_get(jsep.get(), "sdp") : nullptr;
  for (const std::string& offer : rig.sdp().offers()) {
    FUZZ_CHECK(json_is_string(sdp) && offer.size() == json_string_length(sdp) &&
                   std::memcmp(offer.data(), json_string_value(sdp), offer.size()) == 0,
               "the SDP engine was asked to answer an SDP that is not the JSEP's");
  }
  rig.finish();
  return 0;
}
