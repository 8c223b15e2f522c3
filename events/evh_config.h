// janus.eventhandler.media settings (conf/janus.eventhandler.media.jcfg documents each one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../common/config_values.h"
#include "candidate_ledger.h"
#include "event_shapes.h"

namespace jmedia::events {

// What the metrics need: sessions, handles, webrtc, media, transports (to see sessions that
// a closed WebSocket takes with it) and core (the startup event carries
// reclaim-session-timeout; Janus >= 1.2 adds the periodic counts); and what the ICE-candidate
// cap needs: handles (plugin, detach), webrtc (remote candidates, hangups) and jsep (which
// handles have negotiated).
inline constexpr std::uint32_t kDefaultEventsMask =
    kTypeSession | kTypeHandle | kTypeJsep | kTypeWebrtc | kTypeMedia | kTypeTransport | kTypeCore;
// The types without which the ICE-candidate cap cannot count (it is then off).
inline constexpr std::uint32_t kCapNeeds = kTypeHandle | kTypeWebrtc;

struct EventHandlerConfig {
  bool enabled = true;
  std::uint32_t events_mask = kDefaultEventsMask;  // the types Janus delivers to us
  std::size_t max_plugin_series = 16;              // plugins with their own "plugin" label
  // The ICE-candidate cap (runtime/candidate_ledger.h): remote candidates per handle and
  // PeerConnection, 0 = no cap; and which plugins' handles it applies to.
  std::uint32_t max_ice_candidates = 50;
  runtime::CapScope cap_scope = runtime::CapScope::kAll;

  // The cap counts only with a non-zero max and the events it needs.
  bool cap_enabled() const {
    return enabled && max_ice_candidates > 0 && (events_mask & kCapNeeds) == kCapNeeds;
  }
};

inline constexpr std::size_t kMaxPluginSeriesLimit = 256;
inline constexpr std::uint32_t kMaxIceCandidatesLimit = 100000;

// Parses a Janus-style events list ("all", "none", or names from kTypeNames separated by
// commas, case-insensitive). Unknown names are reported in unknown and otherwise ignored;
// nullopt when nothing valid was named (an empty list, or only unknown names).
std::optional<std::uint32_t> parse_events_mask(std::string_view list,
                                               std::vector<std::string>* unknown);
// "sessions,handles,..." for a mask ("none" for 0).
std::string describe_events_mask(std::uint32_t mask);

// "all" or "media" (case-insensitive); nullopt otherwise.
std::optional<runtime::CapScope> parse_cap_scope(std::string_view text);

// Reads general.* from values; every bad value is logged and replaced by its default.
EventHandlerConfig load_evh_config(ConfigValues& values);

}  // namespace jmedia::events
