// RAII for memory that GLib or Janus allocates with g_malloc (gchar strings, g_free'd buffers).
#pragma once

#include <glib.h>

#include <memory>

namespace jmedia {

struct GFree {
  void operator()(void* memory) const noexcept { g_free(memory); }
};
using GCharPtr = std::unique_ptr<gchar, GFree>;

}  // namespace jmedia
