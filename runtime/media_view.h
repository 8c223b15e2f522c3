// What janus.plugin.media publishes for the other modules of the process: a read-only view of
// its session table (list, info, devices) and its two operator commands (kick, drain), answered
// on the caller's thread straight from the plugin's sharded table, never through the Janus
// core. janus.transport.prometheus serves them as the session REST API (/api/media/...).
//
// Requests and answers are the plugin's admin API objects ({"request":"list","limit":10} ->
// {"media":"list","sessions":[...],"next_cursor":...}; errors {"media":"event",
// "error_code":N,"error":"..."}, docs/API.md): one parser and one set of JSON builders serve
// the admin API, the plugin's own list/info/devices and the REST API.
//
// Lifetime: the plugin publishes its view in init() and withdraws it in destroy() before it
// frees anything. A caller holds a MediaViewLease while it calls the view; withdraw waits
// (bounded) until no lease on it is left, so a view is never called once withdrawn.
#pragma once

#include <jansson.h>

#include <chrono>

#include "../common/call_gate.h"
#include "../common/json.h"
#include "runtime.h"

namespace jmedia::runtime {

// The plugin's error codes that callers of the view tell apart (docs/API.md's table; the plugin
// checks at compile time that its own enum agrees).
namespace media_errors {
inline constexpr int kInvalidBody = 1001;
inline constexpr int kInvalidField = 1004;
inline constexpr int kShuttingDown = 1010;
inline constexpr int kNoSuchDevice = 1015;
inline constexpr int kSessionNotFound = 1018;
inline constexpr int kClusterUnavailable = 1022;
inline constexpr int kInternal = 1099;
}  // namespace media_errors

class MediaView {
 public:
  virtual ~MediaView() = default;
  // A read: request is {"request":"list"|"info"|"devices", ...fields}. Returns the plugin's
  // answer (an error object for a bad request), or null when the plugin is going away. Any
  // thread, many in parallel; takes no lock a media thread holds for longer than a lookup.
  virtual JsonPtr read(const json_t* request) = 0;
  // A command: {"request":"kick"|"drain", ...}, as the admin API's. Same contract as read().
  virtual JsonPtr command(const json_t* request) = 0;
  // Whether the plugin runs in token access mode: then its sessions are for authenticated
  // clients only, and the REST API serves no one without a token (loopback clients neither).
  virtual bool token_access() = 0;
};

using MediaViewLease = CallGate<MediaView>::Entry;

// The plugin's init(): publishes view (which must outlive its withdrawal). False when a view
// is published already.
JMEDIA_RUNTIME_API bool publish_media_view(MediaView* view) noexcept;
// The plugin's destroy(): unpublishes view (if it is the one published) and waits, at most
// timeout, until no caller is inside it. False when callers were still inside at the timeout:
// the caller must then not free what the view uses.
JMEDIA_RUNTIME_API bool withdraw_media_view(MediaView* view,
                                            std::chrono::milliseconds timeout) noexcept;
// The published view, held while the lease lives; an empty lease when none is published.
JMEDIA_RUNTIME_API MediaViewLease media_view() noexcept;

}  // namespace jmedia::runtime
