// What a verified token lets its holder do (the "media" claim), and the checks the request
// path makes against it. A pattern is an exact device_id or a prefix ending in '*' ("cam-*");
// "*" alone covers every device (an operator's or a recorder's token). Nothing else is a
// pattern: a token carrying one is invalid, not silently narrower.
#pragma once

#include <jansson.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "errors.h"
#include "key_range.h"

namespace jmedia {

// Bounds a token's cost: patterns in each of publish and watch.
inline constexpr std::size_t kMaxPatternsPerList = 64;

bool valid_pattern(std::string_view pattern);

class PatternSet {
 public:
  // Adds pattern; false (nothing added) when it is not a valid pattern.
  bool add(std::string_view pattern);
  // Whether some pattern covers device_id: O(log patterns).
  bool matches(std::string_view device_id) const { return contains(ranges_, device_id); }
  // The keys the patterns cover, normalised.
  const KeyRanges& ranges() const { return ranges_; }
  // The patterns as given, for logs.
  const std::vector<std::string>& patterns() const { return patterns_; }
  bool empty() const { return patterns_.empty(); }

 private:
  std::vector<std::string> patterns_;
  KeyRanges ranges_;
};

// The requests a token is checked for (also the label values of
// janus_media_access_granted_total).
enum class AccessRequest : int { kPublish, kWatch, kEcho, kList, kInfo, kDevices };
inline constexpr std::array<std::string_view, 6> kAccessRequestLabels = {
    "publish", "watch", "echo", "list", "info", "devices"};
inline std::string_view access_request_label(AccessRequest request) {
  return kAccessRequestLabels[static_cast<std::size_t>(request)];
}
// The check a client request of this name needs in token mode; none for start, configure and
// hangup (a handle that holds a role goes on without a token) or an unknown name.
std::optional<AccessRequest> access_request_named(std::string_view name);

struct Grants {
  PatternSet publish;
  PatternSet watch;
  bool echo = false;
  bool list = false;  // list, info and devices (answering only what shows() covers)
  std::string sub;    // the token's subject for logs: printable ASCII, cut; "" if none

  // publish and watch: device_id in the request's patterns; echo: echo; list, info and
  // devices: list (device_id is not used for them).
  bool allows(AccessRequest request, std::string_view device_id = {}) const;
  // Whether a listing may show device_id (or a session of it): publish or watch covers it.
  bool shows(std::string_view device_id) const {
    return publish.matches(device_id) || watch.matches(device_id);
  }
  // The keys shows() covers, normalised: the ranges a listing pages through.
  KeyRanges shown_ranges() const;
};

// The "media" claim: {"publish":[patterns],"watch":[patterns],"echo":bool,"list":bool}, every
// member optional (absent: nothing granted), no other member. Grants without sub, or why it
// is not one (a reason that names the member and index, never the value).
std::variant<Grants, std::string> parse_media_claim(const json_t* media);

// Error 1021 for a request the grants do not allow. The same words whether or not the device
// exists.
Error forbidden(AccessRequest request);

}  // namespace jmedia
