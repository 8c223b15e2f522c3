// The enforcing half of the ICE-candidate cap (the counting half is janus.eventhandler.media,
// feeding runtime/candidate_ledger.h). A transport may inject admin requests into the core and
// get their answers back (send_message with admin = TRUE), which makes it the one module that
// can act on any handle. One thread, started by start() and joined by stop():
//
//  - cuts: it waits on the ledger's cut queue. For each handle over the cap:
//      janus.plugin.media handle: admin handle_info (plugin_only) -> plugin_specific.media_session,
//        then message_plugin janus.plugin.media {"request":"kick","media_session":S,
//        "reason":"too_many_candidates"}: the plugin pushes error 1019, then "kicked";
//      every handle: admin hangup_webrtc; then, once the event handler reported the hangup
//        of its PeerConnection (at most hangup_wait), detach_handle. The client's own transport
//        sees "hangup" (reason "Admin API", or "Close PC" after a kick) and "detached": had the
//        detach come first, the core would have suppressed the "hangup". Telling the client is
//        bounded (tell_budget), and so is the wait for the hangup: the target is the handle
//        gone within 1 s of going over the cap.
//  - the pending-trickles check (check_interval > 0): trickles that arrive before an offer are
//    queued unparsed by the core, and no event reports them. Every check_interval it asks
//    handle_info for up to checks_per_round of the handles the ledger knows have not negotiated
//    (round-robin, at most window requests in flight; the handles are listed a window at a
//    time, so the core's events thread never waits behind a listing of all of them), and
//    queues those whose "pending-trickles" exceeds max_ice_candidates, with reason
//    pending_trickles. Each pending trickle is one trickle request carrying at least one
//    candidate, so the count is a lower bound of the candidates held.
//    With many idle handles a round covers only a slice of them, so a flood on one handle
//    could go unseen for (handles / checks_per_round) intervals, and one request may carry a
//    thousand candidates. Hence the sweep: the thread samples janus's resident memory every
//    memory_poll; when it has grown by sweep_growth_bytes since the last sweep (the baseline
//    follows it down when memory is freed), the next round checks every unnegotiated handle at
//    once, at most once per sweep_gap (and check_interval). Pre-offer trickles cost memory before
//    anything else, so that is what the sweep listens to. (Memory freed by an earlier flood and
//    reused by the next one does not show as growth: see README.)
//
// Requests carry the admin secret when one is configured. At start the thread probes the core
// with list_sessions (logged either way). An answer 403 (unauthorized), to the probe or any
// later request, stops enforcement for good (logged): the ledger then only counts. Replies come
// through a ReplyBox; requests go out through an AdminGateway (the core's incoming_request in the
// module, a fake in unit tests).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "../common/json.h"
#include "candidate_ledger.h"
#include "reply_box.h"

namespace jmedia::transport {

class AdminGateway {
 public:
  virtual ~AdminGateway() = default;
  // Hands one admin request to the core, which takes it over; the answer comes back through
  // the ReplyBox under request_id. False when it could not be handed over.
  virtual bool inject(std::uint64_t request_id, JsonPtr request) = 0;
};

struct EnforcerOptions {
  std::optional<std::string> admin_secret;         // nullopt: requests carry none
  std::chrono::milliseconds check_interval{1000};  // pending-trickles check; 0 = off
  std::size_t checks_per_round = 500;              // handles checked per interval, at most
  std::uint64_t sweep_growth_bytes = 16u << 20;    // memory growth that triggers a sweep; 0 off
  std::chrono::milliseconds memory_poll{50};       // how often memory is sampled
  std::chrono::milliseconds sweep_gap{5000};       // at least this (and check_interval) apart
  // The janus process's resident memory in bytes (default: /proc/self/statm); 0 = unknown.
  std::function<std::uint64_t()> resident_bytes;
  // Check requests in flight at once, and handles listed per hold of the ledger's mutex (at
  // most CandidateLedger::kMaxSlice).
  std::size_t window = 16;
  std::chrono::milliseconds tell_budget{400};     // handle_info + kick, before the hangup
  std::chrono::milliseconds hangup_wait{250};     // for the core's hangup event, then detach
  std::chrono::milliseconds reply_timeout{2000};  // any other answer
};

// The admin requests the enforcer sends: the "request" label of
// janus_transport_admin_requests_total.
// list_sessions is the probe sent once at start: it tells whether the core takes our requests.
enum class AdminRequest : std::size_t {
  kListSessions,
  kHandleInfo,
  kMessagePlugin,
  kHangupWebrtc,
  kDetachHandle
};
inline constexpr std::array<std::string_view, 5> kAdminRequestNames = {
    "list_sessions", "handle_info", "message_plugin", "hangup_webrtc", "detach_handle"};
// Why an admin request got no useful answer: the "reason" label of
// janus_transport_admin_request_failures_total.
enum class AdminFailure : std::size_t { kError, kTimeout, kNotSent };
inline constexpr std::array<std::string_view, 3> kAdminFailureNames = {"error", "timeout",
                                                                       "not_sent"};

class EnforcerMetrics {
 public:
  explicit EnforcerMetrics(prometheus::Registry& registry);
  ~EnforcerMetrics();
  EnforcerMetrics(const EnforcerMetrics&) = delete;
  EnforcerMetrics& operator=(const EnforcerMetrics&) = delete;

  prometheus::Counter& requests(AdminRequest r) { return *requests_[static_cast<std::size_t>(r)]; }
  prometheus::Counter& failures(AdminFailure f) { return *failures_[static_cast<std::size_t>(f)]; }
  prometheus::Counter& checks() { return checks_; }
  prometheus::Histogram& cut_duration() { return cut_duration_; }

 private:
  prometheus::Registry& registry_;
  prometheus::Family<prometheus::Counter>& requests_family_;
  prometheus::Family<prometheus::Counter>& failures_family_;
  prometheus::Family<prometheus::Counter>& checks_family_;
  prometheus::Family<prometheus::Histogram>& cut_duration_family_;
  std::array<prometheus::Counter*, kAdminRequestNames.size()> requests_{};
  std::array<prometheus::Counter*, kAdminFailureNames.size()> failures_{};
  prometheus::Counter& checks_;
  prometheus::Histogram& cut_duration_;
};

class CandidateEnforcer {
 public:
  using Clock = std::chrono::steady_clock;

  CandidateEnforcer(runtime::CandidateLedger& ledger, AdminGateway& gateway, ReplyBox& box,
                    prometheus::Registry& registry, EnforcerOptions options);
  ~CandidateEnforcer();
  CandidateEnforcer(const CandidateEnforcer&) = delete;
  CandidateEnforcer& operator=(const CandidateEnforcer&) = delete;

  // Attaches to the ledger as its enforcer and starts the thread. False with a reason when
  // another enforcer is attached or the thread cannot start.
  bool start(std::string& error);
  // Detaches from the ledger, wakes every wait and joins the thread. Idempotent.
  void stop() noexcept;

  bool running() const { return thread_.joinable(); }
  // Whether it still enforces (false after stop() or a 403 from the core).
  bool enforcing() const { return enforcing_.load(std::memory_order_acquire); }
  std::uint64_t cuts() const { return cuts_.load(std::memory_order_acquire); }
  std::uint64_t checks() const { return checks_.load(std::memory_order_relaxed); }
  std::uint64_t sweeps() const { return sweeps_.load(std::memory_order_relaxed); }

  // The admin API's query_transport view: settings and counts.
  JsonPtr describe() const;

 private:
  void run();
  void probe();
  void cut(const runtime::CutOrder& order);
  // Checks up to `handles` unnegotiated handles.
  void check_round(std::size_t handles);
  void cut_pending();

  JsonPtr request(AdminRequest what, const runtime::HandleKey* key) const;
  // Injects body; returns its id, or 0 when it could not be sent.
  std::uint64_t send(AdminRequest what, JsonPtr body);
  // Waits for the answer to id; null (and counted as a failure) on timeout or error.
  JsonPtr answer(AdminRequest what, std::uint64_t id, Clock::time_point deadline);
  JsonPtr call(AdminRequest what, JsonPtr body, Clock::time_point deadline);
  void unauthorized();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  runtime::CandidateLedger& ledger_;
  AdminGateway& gateway_;
  ReplyBox& box_;
  EnforcerMetrics metrics_;
  EnforcerOptions options_;  // resident_bytes filled in by the constructor
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> enforcing_{false};
  std::atomic<bool> attached_{false};
  std::atomic<std::uint64_t> cuts_{0};
  std::atomic<std::uint64_t> cut_failures_{0};
  std::atomic<std::uint64_t> checks_{0};
  std::atomic<std::uint64_t> rounds_{0};
  std::atomic<std::uint64_t> sweeps_{0};
  std::atomic<std::int64_t> last_cut_us_{-1};
};

}  // namespace jmedia::transport
