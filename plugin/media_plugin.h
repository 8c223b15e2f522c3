// janus.plugin.media's behaviour, independent of how Janus calls it: plugin_abi.cpp adapts
// the C callbacks to these methods, and unit tests call them directly with a fake Host.
// Implemented across media_plugin.cpp (lifecycle, dispatch), client_requests.cpp,
// admin_requests.cpp, cluster_requests.cpp and media_relay.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "../cluster/directory.h"
#include "../cluster/node_messages.h"
#include "../cluster/relay_loop.h"
#include "../common/janus_api.h"
#include "../common/json.h"
#include "device_notifier.h"
#include "device_registry.h"
#include "grants.h"
#include "host.h"
#include "plugin_config.h"
#include "plugin_metrics.h"
#include "request.h"
#include "session_table.h"
#include "token_verifier.h"
#include "work_queue.h"

namespace jmedia {

class RelayOrigin;

// A handle_message outcome, turned into a janus_plugin_result at the ABI boundary.
struct Reply {
  enum class Kind { kSync, kAsync } kind;
  JsonPtr body;  // kSync: the reply body; kAsync: null (the answer comes by push_event)
};

// Limits that operators change live through the admin API.
struct LiveLimits {
  std::atomic<std::size_t> max_sessions;
  std::atomic<std::size_t> max_viewers_per_device;
};

// What token mode checks exp and nbf against: the system clock, or a test's.
using AccessClock = std::function<TokenVerifier::Clock::time_point()>;

// The plugin is its devices' listener (DeviceListener): it queues their news on its notifier.
class MediaPlugin : private DeviceListener {
 public:
  // config.access in token mode: the verifier is built here, once (config.access_error must
  // be empty: init refuses to start otherwise; here it throws std::invalid_argument).
  MediaPlugin(Host& host, SdpEngine& sdp, const PluginConfig& config, AccessClock clock = {});
  ~MediaPlugin() override;  // shutdown()
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

  // Stops taking new media sessions, ends every role (clients get a hangup with reason
  // "shutdown" and their PeerConnections close) and waits until none is left, at most
  // timeout. Janus keeps running: this is the phase before it stops (see ShutdownGuard).
  // Returns whether every session ended in time.
  bool graceful_stop(std::chrono::milliseconds timeout);
  // Stops taking work, joins the workers and drops every session. Idempotent.
  void shutdown();

  // Ends every role whose WebRTC is not up negotiation_timeout after its negotiation began
  // (now_ms: monotonic_ms_now() or a test's); the client gets a hangup with reason
  // "negotiation timeout". Returns how many ended. The sweeper thread calls it every second.
  std::size_t expire_negotiations(std::int64_t now_ms);

  // Janus 1.1.2 can lose a handle's detach (README, "Handles Janus never frees"): the handle's
  // stopped flag is set, and destroy_session never comes. A session whose handle has been
  // stopped kOrphanAfterMs (now_ms: monotonic_ms_now() or a test's) is orphaned: logged,
  // counted (janus_media_orphaned_handles) and freed as destroy_session would (role, slot,
  // device membership, the core's reference on the handle). A destroy_session that still comes
  // for it takes it off the count. Returns how many were orphaned now. The sweeper calls it
  // every second.
  static constexpr std::int64_t kOrphanAfterMs = 10000;
  std::size_t sweep_orphans(std::int64_t now_ms);
  std::size_t orphaned() const;

  const SessionTable& sessions() const { return sessions_; }
  const DeviceRegistry& devices() const { return devices_; }
  std::size_t queue_depth() const { return queue_.depth(); }
  // Devices whose viewers are still to be told of a publisher change (tests wait for 0).
  std::size_t notifications_pending() { return notifier_.pending(); }
  bool draining() const { return draining_.load(); }
  // access.mode = "token": publish, watch, echo, list, info and devices need a token.
  bool token_mode() const { return verifier_ != nullptr; }
  const AccessConfig& access() const { return config_.access; }
  // The plugin's janus_media_* metrics; registered with the process registry by the module.
  const std::shared_ptr<PluginMetrics>& metrics() const { return metrics_; }
  // The cluster directory client; null on a single node (no cluster.redis).
  const cluster::Directory* directory() const { return directory_.get(); }

 private:
  using SessionPtr = std::shared_ptr<MediaSession>;

  std::string new_session_id() const;

  // client_requests.cpp: the async part of each request, run on a worker.
  // Each returns whether the request succeeded (its error, if any, is pushed already).
  bool run(const SessionPtr& session, const std::string& tx, ClientRequest request);
  bool run_echo(const SessionPtr& session, const std::string& tx, const EchoRequest& request);
  bool run_publish(const SessionPtr& session, const std::string& tx, const PublishRequest& request);
  bool run_watch(const SessionPtr& session, const std::string& tx, const WatchRequest& request);
  bool run_start(const SessionPtr& session, const std::string& tx);
  bool run_configure(const SessionPtr& session, const std::string& tx,
                     const ConfigureRequest& request);
  bool run_hangup(const SessionPtr& session, const std::string& tx);
  // Checks shared by publish/watch/echo: not draining, a free max_sessions slot, no role.
  std::optional<Error> claim_role_slot(const SessionPtr& session);
  // Gives a role to a session (transition mutex held) and indexes it.
  void enter_role(const SessionPtr& session, Role role, const MediaFlags& accepted);
  // Ends the session's role (hangup, kick, detach): device membership, indexes, slot,
  // metrics. Returns the role it had. Takes the transition mutex.
  Role leave_role(const SessionPtr& session, EndReason reason);
  // leave_role, then, when a role did end, tells the client: {"result":"hangup",
  // "media_session","role","reason"}. Returns the role that ended (kNone: none was left).
  Role end_role_and_tell(const SessionPtr& session, EndReason reason);
  // DeviceListener: the device's consumers have news (any thread; queued on the notifier).
  void device_has_news(const std::shared_ptr<Device>& device) override;
  // On the notifier thread: pushes each viewer of device what it has not been told yet
  // (publisher_left, then publisher_joined or an offer).
  void tell_viewers(const std::shared_ptr<Device>& device);
  // graceful_stop's work on one session: closes its PeerConnection (the core then reports the
  // hangup, reason shutdown) and ends a role whose WebRTC is not up here. Returns whether a
  // PeerConnection is being closed.
  bool end_for_shutdown(const SessionPtr& session);
  // Called by a worker after the session entered a role: if graceful_stop began meanwhile,
  // its single pass may have missed that role, so the worker ends it (end_for_shutdown).
  void end_if_stopping(const SessionPtr& session);
  // A publisher's or an echo's own keyframe request (configure, setup_media), rate-limited.
  void request_own_keyframe(MediaSession& session);

  // Token mode, in handle_message on the Janus thread that delivers the request, before it
  // looks anything up or takes a queue slot: the token's grants, or the error that answers
  // the request (1020 for no token or a refused one, 1021 for one that does not grant it),
  // counted. With a request that did not parse, only the token is checked (its own error
  // answers it next).
  std::variant<Grants, Error> authorize(AccessRequest access, const json_t* body,
                                        const std::optional<ClientRequest>& request);

  // Sync queries, shared by client and admin requests. grants: token mode's client requests
  // (only what they cover is answered); null: open mode and the admin API.
  JsonPtr list(const ListRequest& request, const Grants* grants) const;
  JsonPtr list_covered(const ListRequest& request, const Grants& grants) const;
  JsonPtr info(const InfoRequest& request, const Grants* grants);
  JsonPtr devices_page(const DevicesRequest& request, const Grants* grants) const;
  // {"media":"list","sessions":[...],"next_cursor":last or null}
  JsonPtr list_reply(const std::vector<SessionPtr>& page, bool detail, bool more,
                     const std::string& last) const;

  // admin_requests.cpp
  JsonPtr answer_admin(const AdminRequest& request);
  JsonPtr kick(const KickRequest& request);
  JsonPtr drain(const DrainRequest& request);
  JsonPtr limits(const LimitsRequest& request);
  std::size_t kick_session(const SessionPtr& session, KickRequest::Reason reason);

  void push(const SessionPtr& session, const std::string& tx, JsonPtr event,
            JsonPtr jsep = nullptr);
  // Both return false, so that a failing request can `return push_error(...)`.
  bool push_error(const SessionPtr& session, const std::string& tx, const Error& error);
  // push_error for a refused offer: the core built an ICE agent for it before asking us, and
  // would refuse the next offer on this handle, so a handle without media is reset as well.
  bool refuse_offer(const SessionPtr& session, const std::string& tx, const Error& error);
  // An error answer (sync reply or event body), counted by code.
  JsonPtr error_reply(const Error& error) const;
  // The session of a handle on its own loop thread (media callbacks), or null.
  MediaSession* live_session(janus_plugin_session* handle) const;
  SessionPtr shared_session(const MediaSession* session) const;
  // The session a device's producer or consumer serves, found by the handle it holds (null:
  // not a local session, or gone).
  SessionPtr session_of(const janus_plugin_session* handle) const;
  // The device's local publisher and viewers that are still in the session table.
  std::vector<SessionPtr> local_sessions_of(const Device& device) const;

  // cluster_requests.cpp: the plugin's side of the directory (cluster/directory.h).
  class ClusterLink;
  void start_cluster();
  // publish, on a worker, before the local claim: 1014 when another live node holds the device.
  // Waits for the directory thread at most DirectoryOptions::wait; Redis unreachable: accepted
  // here (claimed when it is back). Returns whether this call claimed it in the directory.
  std::variant<bool, Error> claim_in_cluster(const std::string& device_id);
  // watch of a device with no local producer, on a worker: when another node holds it, waits
  // (bounded) for this node's relay of it (remote_devices.cpp); nullopt then: the device is
  // in the registry now, add the viewer again (hold keeps the relay meanwhile). 1015 when
  // nobody publishes it, 1022 when the directory cannot be asked or the origin does not
  // answer, the origin's code when it refuses.
  std::optional<Error> watch_elsewhere(const std::string& device_id, std::shared_ptr<void>& hold);
  JsonPtr cluster_devices_page(const DevicesRequest& request, const Grants* grants) const;
  // On the directory thread: another node holds a device published here; its publisher ends.
  void device_lost(const std::string& device_id, const std::string& holder);

  // relay_origin.cpp: this node as the origin of relays, i.e. the devices published here that
  // other nodes' viewers watch. On the inbox's or the directory's thread (ClusterLink).
  void origin_received(const cluster::NodeMessage& message);
  void origin_node_left(const std::string& node_id);
  RelayTotals origin_relay_totals() const;  // at scrape
  // remote_devices.cpp: this node's viewers of devices published on other nodes, through an
  // inbound relay each (RemoteRelays, remote_relays.h). On the inbox's or the directory's
  // thread (ClusterLink): recorded and handed to the remote relays' thread.
  void remote_received(const cluster::NodeMessage& message);
  void remote_unanswered(const cluster::NodeMessage& request);
  void remote_node_left(const std::string& node_id);
  RelayTotals remote_relay_totals() const;  // at scrape
  class RemoteRelays;

  // media_relay.cpp
  void relay_to_viewers(MediaSession& publisher, janus_plugin_rtp* packet);
  void relay_data_to_viewers(MediaSession& publisher, janus_plugin_data* packet);

  Host& host_;
  SdpEngine& sdp_;
  const PluginConfig config_;
  // Token mode only (null in open mode): built once, const, shared by every request thread.
  std::unique_ptr<const TokenVerifier> verifier_;
  AccessClock clock_;
  std::shared_ptr<PluginMetrics> metrics_;
  // Cluster only (null on a single node): the thread of every relay socket. Declared before
  // the registry, whose devices hold the relays (each detaches from it when destroyed).
  std::unique_ptr<cluster::RelayLoop> relay_loop_;
  LiveLimits limits_;
  SessionTable sessions_;
  DeviceRegistry devices_;
  WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  // 1 from graceful_stop's pass on, never cleared; only read-modify-writes touch it (see
  // end_if_stopping).
  std::atomic<int> stopping_gracefully_{0};
  // The negotiation-timeout sweeper (none when negotiation_timeout = 0).
  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_wake_;
  std::thread sweeper_;
  // Handles orphaned by sweep_orphans that no destroy_session has reached since: a few
  // pointers (each is a handle Janus never frees, so never reused). Guards orphans_ only.
  mutable std::mutex orphans_mutex_;
  std::unordered_set<const janus_plugin_session*> orphans_;
  // Its thread calls tell_viewers from construction on.
  DeviceNotifier notifier_;
  // Cluster only (null on a single node): the outbound relays of the devices published here
  // (relay_origin.h). After the registry and the relay loop it uses; stopped in shutdown().
  std::unique_ptr<RelayOrigin> origin_;
  // Cluster only: this node's remote devices; its thread is stopped in shutdown() before the
  // directory, and it is destroyed after the directory (whose threads call it).
  std::unique_ptr<RemoteRelays> remote_;
  // Cluster only (null on a single node); after everything they reach, stopped first in
  // shutdown(). The link is the directory's listener and outlives it.
  std::unique_ptr<ClusterLink> cluster_link_;
  std::unique_ptr<cluster::Directory> directory_;
};

// {"media":"event","error_code":N,"error":reason}
JsonPtr error_event(const Error& error);
// {"media":"event","result":result}
JsonPtr result_event(const char* result);

}  // namespace jmedia
