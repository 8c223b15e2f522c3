// The cost of one sync `list` (or any sync request) through MediaPlugin::handle_message, and
// of serialising its reply as Janus's HTTP transport does (JSON_INDENT(3) | PRESERVE_ORDER,
// its default `json = "indented"`), against a fake core. Meant for callgrind, whose
// instruction counts do not depend on what else the machine runs:
//
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measure_request*'
//     build-bench/bench/list_cost '{"request":"list","limit":10}' [iterations] [sessions]
//     [publishers]
//
// (and --toggle-collect='*measure_serialise*' for the serialisation). Divide the collected
// Ir by the iterations (the JSON of the last line); scripts/benchmark api does all this.
// Without valgrind it prints the wall time per call as a rough guide.
// sessions (default 10,000, as the benchmark's api part) are attached handles; the first
// `publishers` of them publish a device each ("cam-<n>"), the rest stay idle.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../common/json.h"
#include "../plugin/media_plugin.h"
#include "../tests/unit/fake_host.h"

namespace {

using jmedia::JsonPtr;

[[gnu::noinline]] jmedia::Reply measure_request(jmedia::MediaPlugin& plugin,
                                                janus_plugin_session* handle, const char* body) {
  json_error_t error;
  return plugin.handle_message(handle, "bench", jmedia::adopt(json_loads(body, 0, &error)),
                               nullptr);
}

[[gnu::noinline]] std::size_t measure_serialise(const json_t* reply) {
  char* text = json_dumps(reply, JSON_INDENT(3) | JSON_PRESERVE_ORDER);
  const std::size_t size = text ? std::strlen(text) : 0;
  std::free(text);
  return size;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BODY [iterations] [sessions] [publishers]\n", argv[0]);
    return 2;
  }
  const char* body = argv[1];
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 100;
  const int sessions = argc > 3 ? std::atoi(argv[3]) : 10000;
  const int publishers = argc > 4 ? std::atoi(argv[4]) : 0;
  if (iterations < 1 || sessions < 1 || publishers < 0 || publishers > sessions) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  jmedia::testing::FakeHost host;
  jmedia::testing::FakeSdp sdp;
  jmedia::PluginConfig config;
  config.max_sessions = static_cast<std::size_t>(sessions);
  jmedia::MediaPlugin plugin(host, sdp, config);
  std::vector<janus_plugin_session*> handles;
  for (int i = 0; i < sessions; ++i) {
    janus_plugin_session* handle = host.new_handle();
    int error = 1;
    plugin.create_session(handle, &error);
    if (error != 0) return std::fprintf(stderr, "create_session failed\n"), 1;
    handles.push_back(handle);
  }
  for (int i = 0; i < publishers; ++i) {
    JsonPtr jsep = jmedia::adopt(json_object());
    jmedia::set(jsep.get(), "type", "offer");
    jmedia::set(jsep.get(), "sdp", std::string_view(jmedia::testing::fake_offer()));
    const std::string publish =
        R"({"request":"publish","device_id":"cam-)" + std::to_string(i) + R"("})";
    json_error_t error;
    plugin.handle_message(handles[i], "p", jmedia::adopt(json_loads(publish.c_str(), 0, &error)),
                          std::move(jsep));
    host.wait_events(static_cast<std::size_t>(i) + 1, 10000);
    plugin.setup_media(handles[i]);
  }
  if (plugin.sessions().active() != static_cast<std::size_t>(publishers)) {
    return std::fprintf(stderr, "only %zu of %d publishers\n", plugin.sessions().active(),
                        publishers),
           1;
  }
  std::size_t bytes = 0;
  double request_s = 0;
  double serialise_s = 0;
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    jmedia::Reply reply = measure_request(plugin, handles.back(), body);
    const auto t1 = std::chrono::steady_clock::now();
    bytes = measure_serialise(reply.body.get());
    const auto t2 = std::chrono::steady_clock::now();
    if (reply.kind != jmedia::Reply::Kind::kSync ||
        json_object_get(reply.body.get(), "error_code")) {
      std::fprintf(stderr, "not a sync success: %s\n", jmedia::dump(reply.body.get()).c_str());
      return 1;
    }
    request_s += std::chrono::duration<double>(t1 - t0).count();
    serialise_s += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf(
      "%s: %d iterations over %d sessions (%d publishing): %.2f us per request, "
      "%.2f us to serialise its %zu-byte reply\n",
      body, iterations, sessions, publishers, request_s / iterations * 1e6,
      serialise_s / iterations * 1e6, bytes);
  // Last line, for bench/driver/part_api.py.
  std::printf("{\"iterations\":%d,\"reply_bytes\":%zu}\n", iterations, bytes);
  for (auto* handle : handles) {
    int error = 0;
    plugin.destroy_session(handle, &error);
  }
  return 0;
}
