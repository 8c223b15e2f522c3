// A module's configuration as flat "category.key" -> text pairs, plus validated typed reads.
// Reading is separate from Janus's parser (janus_config_reader.h) so that validation is
// unit-testable. Every rejected value is logged with the key, the value, the accepted range
// and the default that is used instead.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace jmedia {

class ConfigValues {
 public:
  ConfigValues() = default;
  explicit ConfigValues(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  void put(std::string key, std::string value) { values_[std::move(key)] = std::move(value); }
  const std::string* find(const std::string& key) const;

  // Integer in [min, max]; a missing key gives fallback silently, a bad one with a warning.
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  // true/false/yes/no/1/0 (as Janus accepts).
  bool boolean(const std::string& key, bool fallback);
  std::string text(const std::string& key, const std::string& fallback);

  // Keys present in the file that no read asked for (likely typos); logged by the caller.
  std::vector<std::string> unread_keys() const;
  // Problems found so far, one human-readable line each (already logged).
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void reject(const std::string& key, const std::string& value, const std::string& expected,
              const std::string& fallback);

  std::map<std::string, std::string> values_;
  std::vector<std::string> read_;
  std::vector<std::string> problems_;
};

}  // namespace jmedia
