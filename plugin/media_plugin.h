// janus.plugin.media's behaviour, independent of how Janus calls it: plugin_abi.cpp adapts
// the C callbacks to these methods, and unit tests call them directly with a fake Host.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "../common/janus_api.h"
#include "../common/json.h"
#include "host.h"
#include "plugin_config.h"
#include "session_table.h"
#include "work_queue.h"

namespace jmedia {

// A handle_message outcome, turned into a janus_plugin_result at the ABI boundary.
struct Reply {
  enum class Kind { kSync, kAsync } kind;
  JsonPtr body;  // kSync: the reply body; kAsync: null (the answer comes by push_event)
};

class MediaPlugin {
 public:
  MediaPlugin(Host& host, SdpEngine& sdp, const PluginConfig& config);
  ~MediaPlugin();  // shutdown()
  MediaPlugin(const MediaPlugin&) = delete;
  MediaPlugin& operator=(const MediaPlugin&) = delete;

  // Each mirrors the janus_plugin member of the same name.
  void create_session(janus_plugin_session* handle, int* error);
  Reply handle_message(janus_plugin_session* handle, const char* transaction, JsonPtr message,
                       JsonPtr jsep);
  JsonPtr handle_admin_message(const json_t* message);
  void setup_media(janus_plugin_session* handle);
  void incoming_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet);
  void incoming_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet);
  void incoming_data(janus_plugin_session* handle, janus_plugin_data* packet);
  void slow_link(janus_plugin_session* handle, int mindex, bool video, bool uplink);
  void hangup_media(janus_plugin_session* handle);
  void destroy_session(janus_plugin_session* handle, int* error);
  JsonPtr query_session(janus_plugin_session* handle);

  // Stops taking work, joins the workers and drops every session. Idempotent.
  void shutdown();

  const SessionTable& sessions() const { return sessions_; }
  std::size_t queue_depth() const { return queue_.depth(); }

 private:
  using SessionPtr = std::shared_ptr<MediaSession>;

  std::string new_session_id() const;
  // The async part of a request, run on a worker.
  void run_echo(const SessionPtr& session, const std::string& transaction, EchoRequest request);
  void run_hangup(const SessionPtr& session, const std::string& transaction);
  void push(const SessionPtr& session, const std::string& transaction, JsonPtr event,
            JsonPtr jsep = nullptr);
  void push_error(const SessionPtr& session, const std::string& transaction, const Error& error);
  // The session of a handle on its own loop thread (media callbacks), or null.
  MediaSession* live_session(janus_plugin_session* handle) const;

  Host& host_;
  SdpEngine& sdp_;
  const PluginConfig config_;
  SessionTable sessions_;
  WorkQueue queue_;
  std::atomic<bool> stopping_{false};
};

// {"media":"event","error_code":N,"error":reason}
JsonPtr error_event(const Error& error);
// {"media":"event","result":result}
JsonPtr result_event(const char* result);

}  // namespace jmedia
