// What Janus asks every module about itself (the get_* members of janus_plugin,
// janus_transport and janus_eventhandler): the same getters for each module, generated from
// one constant of the module's ABI file.
#pragma once

#include "version.h"

namespace jmedia {

struct ModuleIdentity {
  int api_version;  // JANUS_PLUGIN_API_VERSION, JANUS_TRANSPORT_API_VERSION, ...
  const char* package;
  const char* name;
  const char* description;
};

inline constexpr const char* kModuleAuthor = "janus-media contributors";

// The getters of one module, for its designated-initializer struct.
template <const ModuleIdentity& kIdentity>
struct IdentityGetters {
  static int api_compatibility() noexcept { return kIdentity.api_version; }
  static int version() noexcept { return kVersion; }
  static const char* version_string() noexcept { return kVersionString; }
  static const char* description() noexcept { return kIdentity.description; }
  static const char* name() noexcept { return kIdentity.name; }
  static const char* author() noexcept { return kModuleAuthor; }
  static const char* package() noexcept { return kIdentity.package; }
};

}  // namespace jmedia
