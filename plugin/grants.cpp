#include "grants.h"

#include <cstring>

#include "request.h"

namespace jmedia {
namespace {

// Reads one of the pattern lists into set; "" when fine, else why not.
std::string read_patterns(const json_t* media, const char* name, PatternSet& set) {
  const json_t* list = json_object_get(media, name);
  if (list == nullptr) return "";
  const std::string where = std::string("media.") + name;
  if (!json_is_array(list)) return where + " is not an array";
  if (json_array_size(list) > kMaxPatternsPerList) {
    return where + " has more than " + std::to_string(kMaxPatternsPerList) + " patterns";
  }
  for (std::size_t i = 0; i < json_array_size(list); ++i) {
    const json_t* item = json_array_get(list, i);
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!json_is_string(item)) return at + " is not a string";
    if (!set.add(std::string_view(json_string_value(item), json_string_length(item)))) {
      return at + " is not a pattern (a device_id, or a prefix of one ending in '*')";
    }
  }
  return "";
}

std::string read_flag(const json_t* media, const char* name, bool& flag) {
  const json_t* value = json_object_get(media, name);
  if (value == nullptr) return "";
  if (!json_is_boolean(value)) return std::string("media.") + name + " is not a boolean";
  flag = json_is_true(value);
  return "";
}

}  // namespace

bool valid_pattern(std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return pattern.empty() || valid_device_id(pattern);
  }
  return valid_device_id(pattern);
}

bool PatternSet::add(std::string_view pattern) {
  if (!valid_pattern(pattern)) return false;
  patterns_.emplace_back(pattern);
  const bool prefix = pattern.back() == '*';
  ranges_.push_back(prefix ? prefix_range(pattern.substr(0, pattern.size() - 1))
                           : exact_range(pattern));
  ranges_ = normalise(std::move(ranges_));
  return true;
}

std::optional<AccessRequest> access_request_named(std::string_view name) {
  for (std::size_t i = 0; i < kAccessRequestLabels.size(); ++i) {
    if (kAccessRequestLabels[i] == name) return static_cast<AccessRequest>(i);
  }
  return std::nullopt;
}

bool Grants::allows(AccessRequest request, std::string_view device_id) const {
  switch (request) {
    case AccessRequest::kPublish:
      return publish.matches(device_id);
    case AccessRequest::kWatch:
      return watch.matches(device_id);
    case AccessRequest::kEcho:
      return echo;
    case AccessRequest::kList:
    case AccessRequest::kInfo:
    case AccessRequest::kDevices:
      return list;
  }
  return false;
}

KeyRanges Grants::shown_ranges() const {
  KeyRanges all = publish.ranges();
  all.insert(all.end(), watch.ranges().begin(), watch.ranges().end());
  return normalise(std::move(all));
}

std::variant<Grants, std::string> parse_media_claim(const json_t* media) {
  if (media == nullptr) return std::string("the token has no media claim");
  if (!json_is_object(media)) return std::string("media is not an object");
  const char* key = nullptr;
  json_t* value = nullptr;
  json_object_foreach(const_cast<json_t*>(media), key, value) {
    if (std::strcmp(key, "publish") != 0 && std::strcmp(key, "watch") != 0 &&
        std::strcmp(key, "echo") != 0 && std::strcmp(key, "list") != 0) {
      return std::string("media has a member other than publish, watch, echo and list");
    }
  }
  Grants grants;
  for (std::string problem :
       {read_patterns(media, "publish", grants.publish),
        read_patterns(media, "watch", grants.watch), read_flag(media, "echo", grants.echo),
        read_flag(media, "list", grants.list)}) {
    if (!problem.empty()) return problem;
  }
  return grants;
}

Error forbidden(AccessRequest request) {
  std::string reason = "forbidden: the token does not grant ";
  switch (request) {
    case AccessRequest::kPublish:
      reason += "publishing this device";
      break;
    case AccessRequest::kWatch:
      reason += "watching this device";
      break;
    case AccessRequest::kEcho:
      reason += "echo";
      break;
    case AccessRequest::kList:
    case AccessRequest::kInfo:
    case AccessRequest::kDevices:
      reason += std::string(access_request_label(request)) + " (list)";
      break;
  }
  return Error{ErrorCode::kForbidden, std::move(reason)};
}

}  // namespace jmedia
