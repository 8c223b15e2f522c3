// A janus.plugin.media instance on the fake core (tests/unit/fake_host.*) driven by a line
// script, for the plugin harnesses. Every async request is run by the plugin's own workers:
// after each message the rig waits (bounded) for the queue to drain, so the next line sees
// its effect. Invariants are checked as it goes and when it finishes (see finish()).
//
// Script lines (fuzz/README.md has examples). <h> is a digit: the handle slot, modulo
// kHandles. $0..$5 in a body stand for the media_session id of that slot.
//   m<h><body>[\t<jsep>]   handle_message (body and jsep are JSON text), then drain()
//   n<h><body>[\t<jsep>]   handle_message without waiting for the workers (fills the queue)
//   x<body>[\t<jsep>]      handle_message on the handle detached last (expects 1009)
//   a<body>                handle_admin_message
//   s<h>                   setup_media (the PeerConnection is up)
//   h<h>                   hangup_media (the core hangs up the PeerConnection)
//   d<h>                   destroy_session (detach), then a new handle in the slot
//   q<h>                   query_session
//   l<h>                   slow_link
//   t                      the negotiation timeout passes: every role still negotiating ends
//   k<media>[\t<ttl>]      token mode: mints an HS256 token with the rig's secret, claims
//                          {"exp": now + ttl (default 3600), "media": <media, as written>};
//                          $K in later bodies stands for it
//   A<flags>\t<audio codec>\t<audio pt>\t<video codec>\t<video pt>\t<fmtp>\t<sdp>
//                          queues an answer for the SDP engine (ScriptSdp): flags among
//                          "avd" (kinds answered), "E" (the engine refuses the offer), "O"
//                          (viewer_offer fails). With none queued, FakeSdp answers.
// Anything else is ignored. A script whose first line is "#token" runs the plugin in token
// mode (token_plugin_config(), the clock fixed at kRigNow): then every listing answered to the
// token of the last k line must hold only devices and sessions its grants cover.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../plugin/media_plugin.h"
#include "../tests/unit/fake_host.h"

namespace jmedia::fuzz {

struct ProgrammedAnswer {
  bool refuse = false;        // the engine answers an error (as for an unparsable SDP)
  bool refuse_offer = false;  // viewer_offer fails
  bool audio = false, video = false, data = false;
  PublisherMedia media;
  std::string sdp;
};

// Parses the part of an 'A' line after the 'A'.
ProgrammedAnswer parse_programmed_answer(std::string_view spec);

// FakeSdp, or the answers a script queued.
class ScriptSdp : public testing::FakeSdp {
 public:
  std::variant<Answer, Error> echo_answer(const std::string& offer_sdp,
                                          const MediaFlags& flags) override;
  std::variant<Answer, Error> publisher_answer(const std::string& offer_sdp,
                                               const MediaFlags& flags) override;
  std::variant<std::string, Error> viewer_offer(const PublisherMedia& media) override;

  void queue(ProgrammedAnswer answer);
  // Every offer SDP an answer was asked for, in order.
  std::vector<std::string> offers();

 private:
  std::optional<ProgrammedAnswer> take();
  std::variant<Answer, Error> programmed(const ProgrammedAnswer& program, const MediaFlags& flags);

  std::mutex mutex_;
  std::deque<ProgrammedAnswer> queued_;
  std::vector<std::string> offers_;
};

// Small limits, so that the limit paths are reachable from short inputs.
PluginConfig fuzz_plugin_config();
// The same in token mode (HS256 with the rig's secret).
PluginConfig token_plugin_config();
// token_plugin_config() for a script that starts with "#token", fuzz_plugin_config() else.
PluginConfig config_for_script(std::string_view script);
// The rig's clock in token mode (Unix seconds).
inline constexpr std::int64_t kRigNow = 1'800'000'000;

class PluginRig {
 public:
  static constexpr std::size_t kHandles = 6;
  static constexpr std::size_t kMaxLines = 64;

  explicit PluginRig(const PluginConfig& config = fuzz_plugin_config());
  ~PluginRig();  // finish()
  PluginRig(const PluginRig&) = delete;
  PluginRig& operator=(const PluginRig&) = delete;

  void run_script(std::string_view script);
  void run_line(std::string_view line);

  // The steps of a script, for harnesses that build their own sequences.
  Reply message(std::size_t slot, std::string_view body, std::string_view jsep,
                std::size_t json_flags = 0);
  Reply message(std::size_t slot, JsonPtr body, JsonPtr jsep);
  JsonPtr admin(std::string_view body);
  void setup_media(std::size_t slot);
  void hangup_media(std::size_t slot);
  void send_no_wait(std::size_t slot, std::string_view body, std::string_view jsep);
  void detach(std::size_t slot);  // and attach a new handle in the slot
  // Waits until every queued request ran; aborts after 5 s (a stuck worker is a bug).
  void drain();
  // media_session id of a slot ("" when it has none).
  std::string session_id(std::size_t slot);

  // Detaches every handle, stops the plugin and checks that nothing is left: no session,
  // no device, no active slot, every handle reference released exactly once, every event
  // well formed. Idempotent.
  void finish();

  janus_plugin_session* handle(std::size_t slot) const { return handles_[slot % kHandles]; }
  MediaPlugin& plugin() { return *plugin_; }
  testing::FakeHost& host() { return host_; }
  ScriptSdp& sdp() { return sdp_; }

 private:
  std::string substitute_ids(std::string_view body);
  void attach(std::size_t slot);
  void mint(std::string_view spec);  // a 'k' line
  // Token mode: a listing answered to the last k line's token shows only what it covers.
  void check_covered(const json_t* body, const json_t* reply);

  testing::FakeHost host_;
  ScriptSdp sdp_;
  std::unique_ptr<MediaPlugin> plugin_;
  janus_plugin_session* handles_[kHandles] = {};
  std::vector<janus_plugin_session*> all_handles_;
  janus_plugin_session* last_detached_ = nullptr;
  std::size_t messages_ = 0;
  bool finished_ = false;
  std::string token_;             // the last k line's token ("" before one)
  std::optional<Grants> grants_;  // its grants, when its media claim is valid
};

// Checks a parse_client_request result against its input: exactly one of request and error,
// SDP carried byte for byte, no SDP accepted for requests that take none.
void check_client_parse(const json_t* body, const json_t* jsep);

}  // namespace jmedia::fuzz
