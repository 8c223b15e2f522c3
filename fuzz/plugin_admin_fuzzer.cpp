// janus.plugin.media's admin API: MediaPlugin::handle_admin_message, against a plugin that
// already has a publisher (up) with a started viewer and a negotiating one, an echo session,
// a negotiating publisher of a second device and an idle handle. Each input line is an admin
// request body (JSON); a line that starts with '!' is a script line of plugin_rig.h instead
// (e.g. "!s2", "!m5{\"request\":\"watch\",\"device_id\":\"cam-1\"}"), so that admin requests
// meet sessions in every state. $0..$5 stand for the slots' media_session ids:
//   {"request":"kick","media_session":"$1"}
//   {"request":"limits","max_sessions":1}
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "plugin_rig.h"

namespace {

constexpr std::string_view kOffer =
    R"({"type":"offer","sdp":"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"})";
constexpr std::string_view kAnswer = R"({"type":"answer","sdp":"v=0\r\nm=audio 9 UDP\r\n"})";

void populate(jmedia::fuzz::PluginRig& rig) {
  rig.message(0, R"({"request":"publish","device_id":"cam-1"})", kOffer);
  rig.setup_media(0);
  rig.message(1, R"({"request":"watch","device_id":"cam-1"})", "");
  rig.message(1, R"({"request":"start"})", kAnswer);
  rig.setup_media(1);
  rig.message(2, R"({"request":"watch","device_id":"cam-1"})", "");
  rig.message(3, R"({"request":"echo"})", kOffer);
  rig.setup_media(3);
  rig.message(4, R"({"request":"publish","device_id":"cam-2"})", kOffer);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  jmedia::fuzz::PluginRig rig;
  populate(rig);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::string_view line :
       jmedia::fuzz::split_lines(input, jmedia::fuzz::PluginRig::kMaxLines)) {
    if (!line.empty() && line[0] == '!') {
      rig.run_line(line.substr(1));
    } else {
      rig.admin(line);
    }
  }
  rig.finish();
  return 0;
}
