// janus.eventhandler.media settings (conf/janus.eventhandler.media.jcfg documents each one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../common/config_values.h"
#include "event_shapes.h"

namespace jmedia::events {

// What the metrics need: sessions, handles, webrtc, media, transports (to see sessions that
// a closed WebSocket takes with it) and core (the startup event carries
// reclaim-session-timeout; Janus >= 1.2 adds the periodic counts).
inline constexpr std::uint32_t kDefaultEventsMask =
    kTypeSession | kTypeHandle | kTypeWebrtc | kTypeMedia | kTypeTransport | kTypeCore;

struct EventHandlerConfig {
  bool enabled = true;
  std::uint32_t events_mask = kDefaultEventsMask;  // the types Janus delivers to us
  std::size_t max_plugin_series = 16;              // plugins with their own "plugin" label
};

inline constexpr std::size_t kMaxPluginSeriesLimit = 256;

// Parses a Janus-style events list ("all", "none", or names from kTypeNames separated by
// commas, case-insensitive). Unknown names are reported in unknown and otherwise ignored;
// nullopt when nothing valid was named (an empty list, or only unknown names).
std::optional<std::uint32_t> parse_events_mask(std::string_view list,
                                               std::vector<std::string>* unknown);
// "sessions,handles,..." for a mask ("none" for 0).
std::string describe_events_mask(std::uint32_t mask);

// Reads general.* from values; every bad value is logged and replaced by its default.
EventHandlerConfig load_evh_config(ConfigValues& values);

}  // namespace jmedia::events
