// Reads <config_path>/<package>.jcfg with Janus's own parser into flat ConfigValues.
// Links against symbols of the janus executable: used by modules, not by unit tests.
#pragma once

#include <optional>
#include <string>

#include "config_values.h"

namespace jmedia {

// Any .jcfg file, flattened; nullopt when it is missing or unparsable (nothing logged).
std::optional<ConfigValues> parse_janus_config_file(const std::string& file);

// nullopt when the file is missing or unparsable (logged); modules then run on defaults.
std::optional<ConfigValues> read_janus_config(const char* config_path, const char* package);

}  // namespace jmedia
