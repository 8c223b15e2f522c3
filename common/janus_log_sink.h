// Forwards jmedia logging to Janus's logger; a message above its debug level is not even
// formatted.
#pragma once

namespace jmedia {

// Installs a sink that prefixes every line with "[<module>] ". module must be static.
void use_janus_log(const char* module) noexcept;

}  // namespace jmedia
