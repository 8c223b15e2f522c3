// janus.plugin.media's client requests: MediaPlugin::handle_message (sync and async requests,
// the workers running the async ones), with the session lifecycle calls the core makes around
// them, on the fake core. The input is a script (plugin_rig.h): e.g.
//   m0{"request":"publish","device_id":"cam"}\t{"type":"offer","sdp":"v=0\r\nm=audio ..."}
//   s0
//   m1{"request":"watch","device_id":"cam"}
// Every message is also checked against parse_client_request's contract, and the rig checks
// that detaching every handle leaves nothing behind. A script that starts with "#token" runs
// in token mode (k lines mint tokens, $K uses the last one).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "plugin_rig.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view script(reinterpret_cast<const char*>(data), size);
  jmedia::fuzz::PluginRig rig(jmedia::fuzz::config_for_script(script));
  rig.run_script(script);
  rig.finish();
  return 0;
}
