#include "config_values.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include "log.h"

namespace jmedia {

const std::string* ConfigValues::find(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

void ConfigValues::reject(const std::string& key, const std::string& value,
                          const std::string& expected, const std::string& fallback) {
  std::string line = "config: invalid value '" + value + "' for '" + key + "' (expected " +
                     expected + "); using default " + fallback;
  log_warn("%s", line.c_str());
  problems_.push_back(std::move(line));
}

std::int64_t ConfigValues::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                                   std::int64_t max) {
  read_.push_back(key);
  const std::string* value = find(key);
  if (value == nullptr) return fallback;
  const std::string expected =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(value->c_str(), &end, 10);
  if (value->empty() || errno != 0 || end == nullptr || *end != '\0' || parsed < min ||
      parsed > max) {
    reject(key, *value, expected, std::to_string(fallback));
    return fallback;
  }
  return parsed;
}

bool ConfigValues::boolean(const std::string& key, bool fallback) {
  read_.push_back(key);
  const std::string* value = find(key);
  if (value == nullptr) return fallback;
  const char* v = value->c_str();
  if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1")) return true;
  if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0")) return false;
  reject(key, *value, "true or false", fallback ? "true" : "false");
  return fallback;
}

std::string ConfigValues::text(const std::string& key, const std::string& fallback) {
  read_.push_back(key);
  const std::string* value = find(key);
  return value == nullptr ? fallback : *value;
}

std::vector<std::string> ConfigValues::unread_keys() const {
  std::vector<std::string> unread;
  for (const auto& [key, value] : values_) {
    if (std::find(read_.begin(), read_.end(), key) == read_.end()) unread.push_back(key);
  }
  return unread;
}

}  // namespace jmedia
