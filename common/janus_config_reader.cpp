#include "janus_config_reader.h"

#include <memory>

#include "janus_api.h"
#include "log.h"

namespace jmedia {
namespace {

struct ConfigDestroy {
  void operator()(janus_config* config) const noexcept { janus_config_destroy(config); }
};

void flatten(GList* items, const std::string& prefix, ConfigValues& out) {
  for (GList* node = items; node != nullptr; node = node->next) {
    auto* item = static_cast<janus_config_container*>(node->data);
    if (item == nullptr || item->name == nullptr) continue;
    std::string key = prefix.empty() ? item->name : prefix + "." + item->name;
    if (item->type == janus_config_type_item && item->value != nullptr) {
      out.put(key, item->value);
    } else if (item->type == janus_config_type_category) {
      flatten(item->list, key, out);
    }
  }
}

}  // namespace

std::optional<ConfigValues> parse_janus_config_file(const std::string& file) {
  if (!g_file_test(file.c_str(), G_FILE_TEST_EXISTS)) return std::nullopt;
  std::unique_ptr<janus_config, ConfigDestroy> config(janus_config_parse(file.c_str()));
  if (!config) return std::nullopt;
  ConfigValues values;
  flatten(config->list, "", values);
  return values;
}

std::optional<ConfigValues> read_janus_config(const char* config_path, const char* package) {
  if (config_path == nullptr) return std::nullopt;
  const std::string file = std::string(config_path) + "/" + package + ".jcfg";
  std::optional<ConfigValues> values = parse_janus_config_file(file);
  if (values) {
    log_info("config: read %s", file.c_str());
  } else if (!g_file_test(file.c_str(), G_FILE_TEST_EXISTS)) {
    log_warn("config: %s not found; using defaults", file.c_str());
  } else {
    log_error("config: could not parse %s; using defaults", file.c_str());
  }
  return values;
}

}  // namespace jmedia
