// janus.eventhandler.media's event aggregation: EventAggregator::consume on arbitrary JSON
// events (JSON Lines: one event per line, as tests/events/fixtures captures them), and
// handle_request (the admin query_eventhandler) for lines that start with '?':
//   {"type":1,"session_id":1,"event":{"name":"created","transport":{"id":"7"}}}
//   ?{"request":"summary"}
// After every line the summary must be an object; at the end the registry is scraped
// (TextSerializer) and its number of series must stay within the bound that the closed label
// sets allow: nothing about a session, handle or event may become a label value.
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "../events/event_aggregator.h"
#include "fuzz_util.h"

namespace {

using jmedia::fuzz::parse_json;

constexpr std::size_t kMaxLines = 256;
constexpr std::size_t kPluginSeries = 3;
// Children created on demand: the plugin slots (attached + detached) and the selected pairs
// (local type x remote type x transport, "other" included).
constexpr std::size_t kOnDemandSeries = 2 * kPluginSeries + 5 * 5 * 3;

std::size_t series(const std::vector<prometheus::MetricFamily>& families) {
  std::size_t count = 0;
  for (const auto& family : families) count += family.metric.size();
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  prometheus::Registry registry;
  jmedia::events::EventHandlerConfig config;
  config.max_plugin_series = kPluginSeries;
  jmedia::events::EventAggregator aggregator(registry, config);
  const std::size_t baseline = series(registry.Collect());

  for (std::string_view line : jmedia::fuzz::split_lines(input, kMaxLines)) {
    if (!line.empty() && line[0] == '?') {
      jmedia::JsonPtr request = parse_json(line.substr(1));
      jmedia::JsonPtr reply = aggregator.handle_request(request.get());
      FUZZ_CHECK(json_is_object(reply.get()), "handle_request: not an object");
      continue;
    }
    jmedia::JsonPtr event = parse_json(line);
    if (event) aggregator.consume(event.get());
  }
  jmedia::JsonPtr summary = aggregator.summary();
  FUZZ_CHECK(json_is_object(summary.get()), "summary: not an object");
  for (const char* gauge : {"sessions", "handles", "peerconnections"}) {
    const json_t* value = json_object_get(summary.get(), gauge);
    FUZZ_CHECK(json_is_integer(value) && json_integer_value(value) >= 0, "summary.%s = %s", gauge,
               jmedia::dump(value).c_str());
  }
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  const std::size_t now = series(families);
  FUZZ_CHECK(now <= baseline + kOnDemandSeries, "%zu series from %zu: a label is not bounded", now,
             baseline);
  const std::string text = prometheus::TextSerializer().Serialize(families);
  FUZZ_CHECK(!text.empty(), "empty scrape");
  return 0;
}
