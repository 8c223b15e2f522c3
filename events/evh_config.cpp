#include "evh_config.h"

#include <strings.h>

#include "../common/log.h"

namespace jmedia::events {
namespace {

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t start = text.find_first_not_of(kSpace);
  if (start == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(kSpace);
  return text.substr(start, end - start + 1);
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// What goes missing when a type is left out of the events list.
struct Need {
  std::uint32_t type;
  const char* consequence;
};
constexpr Need kNeeds[] = {
    {kTypeSession, "janus_core_sessions and janus_core_sessions_*_total stay at 0"},
    {kTypeHandle,
     "janus_core_handles, janus_core_handles_*_total, janus_core_peerconnections and the "
     "lost-packet/NACK counters stay at 0, and the ICE-candidate cap is off"},
    {kTypeJsep,
     "the ICE-candidate cap does not see negotiations: every handle counts as not negotiated "
     "and gets the pending-trickles check of janus.transport.prometheus (more admin requests)"},
    {kTypeWebrtc,
     "the ICE, DTLS, selected-pair, remote-candidate, PeerConnection and hangup metrics stay "
     "at 0, and the ICE-candidate cap is off"},
    {kTypeMedia, "the RTT, jitter, lost-packet, NACK and slow-link metrics stay at 0"},
    {kTypeTransport,
     "sessions ended by a closed WebSocket are not seen (janus_core_sessions drifts up)"},
    {kTypeCore, "reclaim_session_timeout is not learnt from the startup event (0 is assumed)"},
};

}  // namespace

std::optional<std::uint32_t> parse_events_mask(std::string_view list,
                                               std::vector<std::string>* unknown) {
  std::uint32_t mask = 0;
  bool any = false;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view name = trim(list.substr(pos, comma - pos));
    pos = comma + 1;
    if (name.empty()) continue;
    if (equals_ignore_case(name, "none")) {
      any = true;
      continue;
    }
    if (equals_ignore_case(name, "all")) {
      mask |= kAllTypes;
      any = true;
      continue;
    }
    bool found = false;
    for (std::size_t i = 0; i < kTypeNames.size(); ++i) {
      if (equals_ignore_case(name, kTypeNames[i])) {
        mask |= 1u << i;
        found = true;
        break;
      }
    }
    if (found) {
      any = true;
    } else if (unknown != nullptr) {
      unknown->emplace_back(name);
    }
  }
  if (!any) return std::nullopt;
  return mask;
}

std::string describe_events_mask(std::uint32_t mask) {
  std::string text;
  for (std::size_t i = 0; i < kTypeNames.size(); ++i) {
    if ((mask & (1u << i)) == 0) continue;
    if (!text.empty()) text += ",";
    text += kTypeNames[i];
  }
  return text.empty() ? "none" : text;
}

EventHandlerConfig load_evh_config(ConfigValues& values) {
  EventHandlerConfig config;
  config.enabled = values.boolean("general.enabled", config.enabled);

  const std::string fallback = describe_events_mask(config.events_mask);
  const std::string list = values.text("general.events", fallback);
  std::vector<std::string> unknown;
  const std::optional<std::uint32_t> mask = parse_events_mask(list, &unknown);
  for (const auto& name : unknown) {
    log_warn(
        "config: unknown event type '%s' in 'general.events' ignored (known: all, none, "
        "sessions, handles, external, jsep, webrtc, media, plugins, transports, core)",
        name.c_str());
  }
  if (mask) {
    config.events_mask = *mask;
  } else {
    log_warn(
        "config: invalid value '%s' for 'general.events' (expected a comma-separated list "
        "of event types); using default %s",
        list.c_str(), fallback.c_str());
  }

  config.max_plugin_series = static_cast<std::size_t>(values.integer(
      "general.max_plugin_series", static_cast<std::int64_t>(config.max_plugin_series), 0,
      static_cast<std::int64_t>(kMaxPluginSeriesLimit)));

  config.max_ice_candidates = static_cast<std::uint32_t>(values.integer(
      "general.max_ice_candidates", config.max_ice_candidates, 0, kMaxIceCandidatesLimit));
  const std::string default_scope(runtime::kCapScopeNames[0]);
  const std::string scope = values.text("general.cap_scope", default_scope);
  if (auto parsed = parse_cap_scope(scope)) {
    config.cap_scope = *parsed;
  } else {
    log_warn(
        "config: invalid value '%s' for 'general.cap_scope' (expected all or media); using "
        "default %s",
        scope.c_str(), default_scope.c_str());
  }

  for (const auto& key : values.unread_keys()) {
    log_warn("config: unknown setting '%s' ignored", key.c_str());
  }
  if (config.enabled) {
    for (const Need& need : kNeeds) {
      if ((config.events_mask & need.type) == 0) {
        log_warn("config: 'general.events' leaves out %s: %s",
                 std::string(kTypeNames[event_type_index(need.type)]).c_str(), need.consequence);
      }
    }
  }
  log_info(
      "config: enabled=%s events=%s max_plugin_series=%zu max_ice_candidates=%u cap_scope=%s",
      config.enabled ? "true" : "false", describe_events_mask(config.events_mask).c_str(),
      config.max_plugin_series, config.max_ice_candidates,
      std::string(runtime::kCapScopeNames[static_cast<std::size_t>(config.cap_scope)]).c_str());
  return config;
}

std::optional<runtime::CapScope> parse_cap_scope(std::string_view text) {
  const std::string_view value = trim(text);
  for (std::size_t i = 0; i < runtime::kCapScopeNames.size(); ++i) {
    if (equals_ignore_case(value, runtime::kCapScopeNames[i])) {
      return static_cast<runtime::CapScope>(i);
    }
  }
  return std::nullopt;
}

}  // namespace jmedia::events
