// Replays events captured from Debian's janus 1.1.2 (through its sampleevh, events = "all",
// with our janus.plugin.media and the stock echotest loaded) and checks every janus_core_*
// metric they should move, then runs `promtool check metrics` on the exposition.
//
// fixtures/janus-1.1.2-echo-sessions.jsonl, one event per line, in the order the core sent
// them (jsep and plugin events left out: the module does not subscribe to them by default;
// media stats thinned to every 4th per stream plus the last):
//  1. echotest: WebSocket connect, create, attach, offer (trickle false), ICE, DTLS,
//     webrtcup, ~12 s of audio+video+data echo, Janus API hangup, detach, destroy, disconnect
//  2. janus.plugin.media: the same with {"request":"echo"} and {"request":"hangup"} (the
//     plugin closes the PeerConnection: reason "Close PC")
//  3. echotest again, but the client closes its WebSocket without hangup/detach/destroy: the
//     core detaches the handle (no hangup event) and destroys the session silently.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../../common/json.h"
#include "../../events/event_aggregator.h"

namespace jmedia::events {
namespace {

struct Replay {
  std::size_t events = 0;
  std::size_t parse_errors = 0;
};

Replay replay(EventAggregator& aggregator) {
  Replay result;
  std::ifstream in(JMEDIA_EVENTS_FIXTURE);
  EXPECT_TRUE(in.good()) << "cannot open " << JMEDIA_EVENTS_FIXTURE;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json_error_t error;
    JsonPtr event = adopt(json_loads(line.c_str(), 0, &error));
    if (!event) {
      ++result.parse_errors;
      continue;
    }
    aggregator.consume(event.get());
    ++result.events;
  }
  return result;
}

double series(const std::string& exposition, const std::string& name) {
  const std::string needle = "\n" + name + " ";
  const std::size_t pos = exposition.find(needle);
  if (pos == std::string::npos) return -1;
  return std::strtod(exposition.c_str() + pos + needle.size(), nullptr);
}

class Captured : public ::testing::Test {
 protected:
  void SetUp() override {
    aggregator_ = std::make_unique<EventAggregator>(registry_, EventHandlerConfig{});
    const Replay r = replay(*aggregator_);
    ASSERT_EQ(r.parse_errors, 0u);
    ASSERT_EQ(r.events, 98u);
    text_ = "\n" + prometheus::TextSerializer().Serialize(registry_.Collect());
  }

  double at(const std::string& name) { return series(text_, name); }

  prometheus::Registry registry_;
  std::unique_ptr<EventAggregator> aggregator_;
  std::string text_;
};

TEST_F(Captured, GaugesReturnToZeroAfterEverySessionEnded) {
  EXPECT_EQ(at("janus_core_sessions"), 0) << text_;
  EXPECT_EQ(at("janus_core_handles"), 0);
  EXPECT_EQ(at("janus_core_peerconnections"), 0);
  EXPECT_EQ(at("janus_core_events_unrecognized_total"), 0);
  EXPECT_EQ(aggregator_->reclaim_session_timeout(), 0);
}

TEST_F(Captured, SessionAndHandleCounters) {
  EXPECT_EQ(at("janus_core_sessions_created_total"), 3);
  EXPECT_EQ(at(R"(janus_core_sessions_destroyed_total{reason="request"})"), 2);
  EXPECT_EQ(at(R"(janus_core_sessions_destroyed_total{reason="transport_gone"})"), 1);
  EXPECT_EQ(at(R"(janus_core_sessions_destroyed_total{reason="timeout"})"), 0);
  EXPECT_EQ(at(R"(janus_core_handles_attached_total{plugin="janus.plugin.echotest"})"), 2);
  EXPECT_EQ(at(R"(janus_core_handles_attached_total{plugin="janus.plugin.media"})"), 1);
  EXPECT_EQ(at(R"(janus_core_handles_detached_total{plugin="janus.plugin.echotest"})"), 2);
  EXPECT_EQ(at(R"(janus_core_handles_detached_total{plugin="janus.plugin.media"})"), 1);
  EXPECT_EQ(at(R"(janus_core_handles_attached_total{plugin="other"})"), 0);
}

TEST_F(Captured, PeerConnectionsIceAndDtls) {
  EXPECT_EQ(at("janus_core_peerconnections_established_total"), 3);
  EXPECT_EQ(at(R"(janus_core_peerconnection_hangups_total{reason="janus_api"})"), 1);
  EXPECT_EQ(at(R"(janus_core_peerconnection_hangups_total{reason="close_pc"})"), 1);
  EXPECT_EQ(at(R"(janus_core_peerconnection_hangups_total{reason="detach"})"), 1);
  for (const char* state : {"gathering", "connecting", "connected", "ready"}) {
    EXPECT_EQ(at(std::string(R"(janus_core_ice_state_transitions_total{state=")") + state + "\"}"),
              3)
        << state;
  }
  EXPECT_EQ(at(R"(janus_core_ice_state_transitions_total{state="failed"})"), 0);
  EXPECT_EQ(at(R"(janus_core_dtls_state_transitions_total{state="trying"})"), 3);
  EXPECT_EQ(at(R"(janus_core_dtls_state_transitions_total{state="connected"})"), 3);
  EXPECT_EQ(
      at(R"(janus_core_selected_pairs_total{local_type="host",remote_type="host",transport="udp"})"),
      3);
  EXPECT_EQ(at(R"(janus_core_remote_candidates_total{type="host"})"), 6);
}

TEST_F(Captured, MediaStatsAndEventCounts) {
  // Loopback: no loss, no NACKs, a few RTT samples of 1-2 ms (0 ms samples are left out).
  EXPECT_EQ(at(R"(janus_core_lost_packets_total{direction="inbound",media="audio"})"), 0);
  EXPECT_EQ(at(R"(janus_core_nacks_total{direction="sent",media="video"})"), 0);
  EXPECT_GT(at(R"(janus_core_jitter_seconds_count{direction="inbound",media="audio"})"), 0);
  EXPECT_GT(at(R"(janus_core_jitter_seconds_count{direction="outbound",media="video"})"), 0);
  EXPECT_GE(at(R"(janus_core_rtt_seconds_count{media="audio"})"), 0);
  EXPECT_EQ(at(R"(janus_core_events_total{type="session"})"), 5);
  EXPECT_EQ(at(R"(janus_core_events_total{type="handle"})"), 6);
  EXPECT_EQ(at(R"(janus_core_events_total{type="webrtc"})"), 35);
  EXPECT_EQ(at(R"(janus_core_events_total{type="media"})"), 42);
  EXPECT_EQ(at(R"(janus_core_events_total{type="transport"})"), 8);
  EXPECT_EQ(at(R"(janus_core_events_total{type="core"})"), 2);
  EXPECT_EQ(at(R"(janus_core_events_total{type="other"})"), 0);
}

// ---------------------------------------------------------------------------------------------
// promtool

struct Promtool {
  int exit_code = -1;
  std::string output;
};

Promtool check_metrics(const std::string& exposition) {
  Promtool result;
  const std::string promtool = JMEDIA_PROMTOOL;
  if (promtool.empty() || access(promtool.c_str(), X_OK) != 0) {
    ADD_FAILURE() << "promtool not found (" << promtool
                  << "): install Debian's prometheus package (scripts/deps does)";
    return result;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/jmedia-events-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    ADD_FAILURE() << "mkstemp failed";
    return result;
  }
  close(fd);
  std::ofstream(path, std::ios::binary) << exposition;
  const std::string command = "'" + promtool + "' check metrics < '" + path + "' 2>&1";
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[1024];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  } else {
    ADD_FAILURE() << "popen failed";
  }
  unlink(path.c_str());
  return result;
}

TEST_F(Captured, PromtoolChecksTheExposition) {
  const Promtool result = check_metrics(text_.substr(1));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "") << "promtool lint findings:\n" << result.output;
}

TEST(Promtool, FlagsABadExposition) {
  // The control: the check really runs and really complains (a counter without _total).
  const Promtool result = check_metrics("# HELP bad A counter.\n# TYPE bad counter\nbad 1\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("_total"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace jmedia::events
