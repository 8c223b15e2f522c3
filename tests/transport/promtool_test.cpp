// Pipes a real scrape through `promtool check metrics` (Debian package prometheus, installed by
// scripts/deps). Not skipped when promtool is missing: the test fails and says so.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "../../transport/http_server.h"
#include "../../transport/process_metrics.h"
#include "../../transport/runtime_host.h"
#include "../../transport/transport_metrics.h"
#include "http_client.h"
#include "runtime.h"

namespace jmedia::testing {
namespace {

struct Promtool {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs promtool with args; result.output holds stdout and stderr.
Promtool run_promtool(const std::string& args) {
  Promtool result;
  const std::string promtool = JMEDIA_PROMTOOL;
  if (promtool.empty() || access(promtool.c_str(), X_OK) != 0) {
    ADD_FAILURE() << "promtool not found (" << promtool
                  << "): install Debian's prometheus package (scripts/deps does)";
    return result;
  }
  const std::string command = "'" + promtool + "' " + args + " 2>&1";
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[1024];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  } else {
    ADD_FAILURE() << "popen failed";
  }
  return result;
}

// Runs `promtool check metrics` on exposition (through a temporary file on its stdin).
Promtool check_metrics(const std::string& exposition) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/jmedia-scrape-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    ADD_FAILURE() << "mkstemp failed";
    return {};
  }
  close(fd);
  std::ofstream(path, std::ios::binary) << exposition;
  Promtool result = run_promtool("check metrics < '" + path + "'");
  unlink(path.c_str());
  return result;
}

TEST(Promtool, FlagsABadExposition) {
  // The control: the check really runs and really complains (a counter without _total).
  Promtool result = check_metrics("# HELP bad A counter.\n# TYPE bad counter\nbad 1\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("_total"), std::string::npos) << result.output;
}

// The production wiring: the transport's metrics in the process-wide registry, process
// metrics as a runtime collectable, served through RuntimeHost.
TEST(Promtool, AProductionScrapePassesCheckMetrics) {
  transport::TransportMetrics metrics(runtime::registry(), {"1.1.2", "0.1.0"});
  auto process = std::make_shared<transport::ProcessCollector>();
  runtime::add_collectable(process);
  transport::RuntimeHost host;
  transport::HttpServer server(host, metrics, {.ip = "127.0.0.1", .port = 0});
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;

  // Give every family samples: a scrape (duration histogram), a 404, a 405.
  ASSERT_TRUE(http_request(server.port(), "GET", "/metrics", {}, error)) << error;
  ASSERT_TRUE(http_request(server.port(), "GET", "/nope", {}, error)) << error;
  ASSERT_TRUE(http_request(server.port(), "POST", "/metrics", {}, error)) << error;
  auto reply = http_request(server.port(), "GET", "/metrics", {}, error);
  server.stop();
  runtime::remove_collectable(process.get());
  ASSERT_TRUE(reply) << error;
  ASSERT_EQ(reply->status, 200);

  const std::string& body = reply->body;
  for (const char* name :
       {"process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_cpu_seconds_total", "process_open_fds", "process_max_fds",
        "process_start_time_seconds", "process_threads", "janus_build_info",
        "janus_transport_scrapes_total", "janus_transport_scrape_duration_seconds",
        "janus_transport_http_requests_total"}) {
    EXPECT_NE(body.find(std::string("\n# TYPE ") + name + " "), std::string::npos)
        << name << " missing from\n"
        << body;
  }
  EXPECT_EQ(sample_value(body, "janus_transport_scrape_duration_seconds_count"), 1) << body;

  Promtool result = check_metrics(body);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "") << "promtool check metrics must report nothing; scrape was:\n"
                               << body;
}

TEST(Promtool, TheScrapeConfigIsValid) {
  Promtool result =
      run_promtool("check config '" JMEDIA_SOURCE_DIR "/conf/prometheus/prometheus.yml'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
}  // namespace jmedia::testing
