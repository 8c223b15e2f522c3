// Forwards jmedia logging to Janus's logger, honouring its debug level.
#pragma once

namespace jmedia {

// Installs a sink that prefixes every line with "[<module>] ". module must be static.
void use_janus_log(const char* module) noexcept;

}  // namespace jmedia
