#include "candidate_enforcer.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../common/abi_guard.h"
#include "../common/log.h"

namespace jmedia::transport {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildHistogram;

constexpr int kErrorUnauthorized = 403;  // JANUS_ERROR_UNAUTHORIZED

const prometheus::Histogram::BucketBoundaries& cut_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};
  return buckets;
}

bool is_success(const json_t* reply) {
  const json_t* janus = member(reply, "janus");
  return json_is_string(janus) && std::string_view(json_string_value(janus)) == "success";
}

// The "error"."code" of an error answer; 0 otherwise.
int error_code(const json_t* reply) {
  const json_t* code = member(member(reply, "error"), "code");
  return json_is_integer(code) ? static_cast<int>(json_integer_value(code)) : 0;
}

const char* error_reason(const json_t* reply) {
  const json_t* reason = member(member(reply, "error"), "reason");
  return json_is_string(reason) ? json_string_value(reason) : "?";
}

// Resident memory of this (the janus) process, from /proc/self/statm; 0 when unreadable.
std::uint64_t own_resident_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  unsigned long long size = 0;
  unsigned long long resident = 0;
  const int read = std::fscanf(file, "%llu %llu", &size, &resident);
  std::fclose(file);
  if (read != 2) return 0;
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// metrics

EnforcerMetrics::EnforcerMetrics(prometheus::Registry& registry)
    : registry_(registry),
      requests_family_(BuildCounter()
                           .Name("janus_transport_admin_requests_total")
                           .Help("Admin requests this transport injected into the core for the "
                                 "ICE-candidate cap, by request.")
                           .Register(registry)),
      failures_family_(BuildCounter()
                           .Name("janus_transport_admin_request_failures_total")
                           .Help("Injected admin requests without a useful answer: the core "
                                 "answered an error, did not answer in time, or the request "
                                 "could not be handed over.")
                           .Register(registry)),
      checks_family_(BuildCounter()
                         .Name("janus_transport_pending_trickles_checks_total")
                         .Help("Handles whose pending-trickles count was asked for (handles that "
                               "have not negotiated yet).")
                         .Register(registry)),
      cut_duration_family_(BuildHistogram()
                               .Name("janus_transport_handle_cut_duration_seconds")
                               .Help("From a handle going over the ICE-candidate cap (or being "
                                     "found over it) to the core's answer to its detach.")
                               .Register(registry)),
      checks_(checks_family_.Add({})),
      cut_duration_(cut_duration_family_.Add({}, cut_buckets())) {
  for (std::size_t i = 0; i < kAdminRequestNames.size(); ++i) {
    requests_[i] = &requests_family_.Add({{"request", std::string(kAdminRequestNames[i])}});
  }
  for (std::size_t i = 0; i < kAdminFailureNames.size(); ++i) {
    failures_[i] = &failures_family_.Add({{"reason", std::string(kAdminFailureNames[i])}});
  }
}

EnforcerMetrics::~EnforcerMetrics() {
  registry_.Remove(requests_family_);
  registry_.Remove(failures_family_);
  registry_.Remove(checks_family_);
  registry_.Remove(cut_duration_family_);
}

// ---------------------------------------------------------------------------------------------
// lifecycle

CandidateEnforcer::CandidateEnforcer(runtime::CandidateLedger& ledger, AdminGateway& gateway,
                                     ReplyBox& box, prometheus::Registry& registry,
                                     EnforcerOptions options)
    : ledger_(ledger),
      gateway_(gateway),
      box_(box),
      metrics_(registry),
      options_(std::move(options)) {
  if (!options_.resident_bytes) options_.resident_bytes = own_resident_bytes;
}

CandidateEnforcer::~CandidateEnforcer() {
  stop();
}

bool CandidateEnforcer::start(std::string& error) {
  if (thread_.joinable()) {
    error = "the ICE-candidate cap enforcer is running already";
    return false;
  }
  if (!ledger_.attach_enforcer()) {
    error = "another module enforces the ICE-candidate cap already";
    return false;
  }
  attached_.store(true, std::memory_order_release);
  stopping_.store(false, std::memory_order_release);
  enforcing_.store(true, std::memory_order_release);
  box_.resume();
  try {
    thread_ = guarded_thread("candidate cap thread", "jm-cand-cap", [this] { run(); });
  } catch (const std::system_error& e) {
    error = std::string("cannot start the ICE-candidate cap thread: ") + e.what();
    enforcing_.store(false, std::memory_order_release);
    attached_.store(false, std::memory_order_release);
    ledger_.detach_enforcer();
    return false;
  }
  return true;
}

void CandidateEnforcer::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  enforcing_.store(false, std::memory_order_release);
  if (attached_.exchange(false, std::memory_order_acq_rel)) ledger_.detach_enforcer();
  if (thread_.joinable()) {
    box_.interrupt();  // every wait() returns at once
    thread_.join();
    box_.resume();
  }
}

void CandidateEnforcer::unauthorized() {
  // Off the ledger first: once enforcing() reads false, the ledger only counts.
  if (attached_.exchange(false, std::memory_order_acq_rel)) ledger_.detach_enforcer();
  if (!enforcing_.exchange(false, std::memory_order_acq_rel)) return;
  log_error(
      "candidate cap: the core refused our admin request (403 unauthorized): admin_secret in "
      "janus.jcfg is missing or not the one janus uses. The ICE-candidate cap cannot be "
      "enforced; janus.eventhandler.media only counts from now on");
}

// ---------------------------------------------------------------------------------------------
// the thread

void CandidateEnforcer::run() {
  guarded_void("candidate cap thread: start-up probe", [this] { probe(); });
  using std::chrono::milliseconds;
  const bool checking = options_.check_interval.count() > 0;
  const bool sweeping = checking && options_.sweep_growth_bytes > 0;
  const milliseconds poll = std::max(options_.memory_poll, milliseconds{1});
  Clock::time_point next_check = Clock::now() + options_.check_interval;
  const auto sweep_gap = std::max(options_.sweep_gap, options_.check_interval);
  Clock::time_point last_sweep = Clock::now() - sweep_gap;
  std::uint64_t baseline = sweeping ? options_.resident_bytes() : 0;
  // Bounded: each pass either cuts, runs a check round or waits up to one second. Each pass
  // runs behind the exception barrier: a throw is logged and the next pass enforces again.
  while (!stopping() && enforcing()) {
    const bool passed = guarded("candidate cap thread", false, [&] {
      milliseconds wait{1000};
      if (checking) {
        const auto left = std::chrono::duration_cast<milliseconds>(next_check - Clock::now());
        wait = std::clamp(left, milliseconds{0}, wait);
      }
      if (sweeping) wait = std::min(wait, poll);
      if (auto order = ledger_.next_cut(wait)) {
        cut(*order);
        return true;
      }
      if (!checking || stopping() || !enforcing()) return true;
      const Clock::time_point now = Clock::now();
      bool sweep = false;
      std::uint64_t grown = 0;
      if (sweeping) {
        const std::uint64_t resident = options_.resident_bytes();
        if (resident != 0) {
          baseline = baseline == 0 ? resident : std::min(baseline, resident);
          grown = resident - baseline;
          sweep = grown >= options_.sweep_growth_bytes && now - last_sweep >= sweep_gap;
        }
      }
      if (!sweep && now < next_check) return true;
      if (sweep) {
        sweeps_.fetch_add(1, std::memory_order_relaxed);
        last_sweep = now;
        log_verbose("candidate cap: janus grew by %" PRIu64
                    " MB since the last sweep: checking every handle that has not negotiated",
                    grown >> 20);
      }
      check_round(sweep ? std::numeric_limits<std::size_t>::max() : options_.checks_per_round);
      if (sweep) baseline = options_.resident_bytes();
      next_check = Clock::now() + options_.check_interval;
      return true;
    });
    // A round that threw is not retried at once: the next one comes an interval later.
    if (!passed && checking) next_check = Clock::now() + options_.check_interval;
  }
}

void CandidateEnforcer::probe() {
  const std::uint64_t id =
      send(AdminRequest::kListSessions, request(AdminRequest::kListSessions, nullptr));
  JsonPtr reply = answer(AdminRequest::kListSessions, id, Clock::now() + options_.reply_timeout);
  if (reply) {
    log_info("candidate cap: the core takes our admin requests: the cap is enforced");
  } else if (enforcing() && !stopping()) {
    log_warn(
        "candidate cap: no answer to the start-up probe (admin list_sessions) within %lld "
        "ms; enforcing anyway",
        static_cast<long long>(options_.reply_timeout.count()));
  }
}

void CandidateEnforcer::cut_pending() {
  // Bounded by the queue's size at most; cuts are what the checks exist for.
  for (std::size_t i = 0; i < runtime::CandidateLedger::kDefaultMaxQueue; ++i) {
    if (stopping() || !enforcing()) return;
    auto order = ledger_.next_cut(std::chrono::milliseconds{0});
    if (!order) return;
    cut(*order);
  }
}

void CandidateEnforcer::cut(const runtime::CutOrder& order) {
  const Clock::time_point start = Clock::now();
  const runtime::HandleKey& key = order.key;
  const char* reason = runtime::kCutReasonLabels[static_cast<std::size_t>(order.reason)].data();

  // 1. A janus.plugin.media client is told why (error 1019, then "kicked"), within a budget.
  bool told = false;
  if (order.media) {
    const Clock::time_point tell_by = start + options_.tell_budget;
    JsonPtr info_request = request(AdminRequest::kHandleInfo, &key);
    set(info_request.get(), "plugin_only", true);
    JsonPtr info = call(AdminRequest::kHandleInfo, std::move(info_request), tell_by);
    const json_t* session =
        member(member(member(info.get(), "info"), "plugin_specific"), "media_session");
    if (json_is_string(session) && !stopping() && enforcing()) {
      JsonPtr kick = adopt(json_object());
      set(kick.get(), "request", "kick");
      set(kick.get(), "media_session", json_string_value(session));
      set(kick.get(), "reason", "too_many_candidates");
      JsonPtr message = request(AdminRequest::kMessagePlugin, nullptr);
      set(message.get(), "plugin", runtime::kMediaPluginPackage);
      set(message.get(), "request", std::move(kick));
      JsonPtr reply = call(AdminRequest::kMessagePlugin, std::move(message), tell_by);
      const json_t* kicked = member(member(reply.get(), "response"), "kicked");
      told = json_is_integer(kicked) && json_integer_value(kicked) > 0;
    }
  }
  if (stopping() || !enforcing()) return;

  // 2. Hang up, let the core's handle loop tell the client (its "hangup" event goes out only
  //    while the handle is not being detached), then detach.
  (void)call(AdminRequest::kHangupWebrtc, request(AdminRequest::kHangupWebrtc, &key),
             Clock::now() + options_.reply_timeout);
  if (stopping() || !enforcing()) return;
  ledger_.wait_hangup(key, options_.hangup_wait);
  if (stopping() || !enforcing()) return;
  JsonPtr detached = call(AdminRequest::kDetachHandle, request(AdminRequest::kDetachHandle, &key),
                          Clock::now() + options_.reply_timeout);
  if (is_success(detached.get())) {
    const auto took_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - order.queued_at);
    metrics_.cut_duration().Observe(static_cast<double>(took_us.count()) / 1e6);
    last_cut_us_.store(took_us.count(), std::memory_order_relaxed);
    cuts_.fetch_add(1, std::memory_order_release);
    ledger_.count_cut(order.reason);  // last: what tests and dashboards wait for
    log_info(
        "candidate cap: handle %" PRIu64 " (session %" PRIu64 ") hung up and detached (%s: %" PRIu64
        " %s)%s, "
        "%.1f ms after going over the cap",
        key.handle_id, key.session_id, reason, order.count,
        order.reason == runtime::CutReason::kPendingTrickles ? "pending trickles" : "candidates",
        order.media ? (told ? "; its client got error 1019" : "; its client was not told") : "",
        static_cast<double>(took_us.count()) / 1000.0);
  } else {
    cut_failures_.fetch_add(1, std::memory_order_relaxed);
    log_verbose("candidate cap: detaching handle %" PRIu64 " (session %" PRIu64
                ") did not succeed (%s): "
                "probably gone already",
                key.handle_id, key.session_id,
                detached ? error_reason(detached.get()) : "no answer");
  }
}

void CandidateEnforcer::check_round(std::size_t handles) {
  const std::uint32_t max = ledger_.config().max_ice_candidates;
  if (max == 0) return;
  // Listed a window at a time: the ledger's mutex, which the core's events thread needs for
  // every event, is held for one short slice, never for a listing of every handle.
  runtime::CheckRound round = runtime::CandidateLedger::start_round(handles);
  const std::size_t window = std::max<std::size_t>(1, options_.window);
  std::vector<std::uint64_t> ids;
  ids.reserve(std::min(window, runtime::CandidateLedger::kMaxSlice));
  bool counted = false;
  for (;;) {
    cut_pending();
    if (stopping() || !enforcing()) return;
    const std::vector<runtime::CheckTarget> targets = ledger_.next_slice(round, window);
    if (targets.empty()) return;
    if (!counted) {
      rounds_.fetch_add(1, std::memory_order_relaxed);
      counted = true;
    }
    ids.clear();
    for (const auto& target : targets) {
      ids.push_back(
          send(AdminRequest::kHandleInfo, request(AdminRequest::kHandleInfo, &target.key)));
    }
    metrics_.checks().Increment(static_cast<double>(targets.size()));
    checks_.fetch_add(targets.size(), std::memory_order_relaxed);
    const Clock::time_point deadline = Clock::now() + options_.reply_timeout;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      JsonPtr reply = answer(AdminRequest::kHandleInfo, ids[i], deadline);
      const json_t* pending = member(member(reply.get(), "info"), "pending-trickles");
      if (!json_is_integer(pending) ||
          json_integer_value(pending) <= static_cast<json_int_t>(max)) {
        continue;
      }
      const auto count = static_cast<std::uint64_t>(json_integer_value(pending));
      if (ledger_.queue_cut(targets[i].key, runtime::CutReason::kPendingTrickles, count)) {
        log_info("candidate cap: handle %" PRIu64 " (session %" PRIu64 ") holds %" PRIu64
                 " trickles sent before any "
                 "offer, over max_ice_candidates = %u: queued to be hung up and detached",
                 targets[i].key.handle_id, targets[i].key.session_id, count, max);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// admin requests

JsonPtr CandidateEnforcer::request(AdminRequest what, const runtime::HandleKey* key) const {
  JsonPtr body = adopt(json_object());
  set(body.get(), "janus", kAdminRequestNames[static_cast<std::size_t>(what)]);
  if (options_.admin_secret) set(body.get(), "admin_secret", *options_.admin_secret);
  if (key != nullptr) {
    set(body.get(), "session_id", key->session_id);
    set(body.get(), "handle_id", key->handle_id);
  }
  return body;
}

std::uint64_t CandidateEnforcer::send(AdminRequest what, JsonPtr body) {
  const std::uint64_t id = box_.expect();
  set(body.get(), "transaction", "jmedia-cap-" + std::to_string(id));
  metrics_.requests(what).Increment();
  if (!gateway_.inject(id, std::move(body))) {
    box_.forget(id);
    metrics_.failures(AdminFailure::kNotSent).Increment();
    return 0;
  }
  return id;
}

JsonPtr CandidateEnforcer::answer(AdminRequest what, std::uint64_t id, Clock::time_point deadline) {
  if (id == 0) return nullptr;
  JsonPtr reply = box_.wait(id, deadline);
  if (!reply) {
    if (!stopping()) metrics_.failures(AdminFailure::kTimeout).Increment();
    return nullptr;
  }
  if (!is_success(reply.get())) {
    metrics_.failures(AdminFailure::kError).Increment();
    if (error_code(reply.get()) == kErrorUnauthorized) unauthorized();
    log_verbose("candidate cap: admin %s answered error %d (%s)",
                kAdminRequestNames[static_cast<std::size_t>(what)].data(), error_code(reply.get()),
                error_reason(reply.get()));
    return nullptr;
  }
  return reply;
}

JsonPtr CandidateEnforcer::call(AdminRequest what, JsonPtr body, Clock::time_point deadline) {
  return answer(what, send(what, std::move(body)), deadline);
}

// ---------------------------------------------------------------------------------------------

JsonPtr CandidateEnforcer::describe() const {
  JsonPtr out = adopt(json_object());
  set(out.get(), "enforcing", enforcing());
  set(out.get(), "admin_secret", options_.admin_secret.has_value());
  set(out.get(), "pending_trickles_check_ms",
      static_cast<std::int64_t>(options_.check_interval.count()));
  set(out.get(), "pending_trickles_checks_per_round",
      static_cast<std::uint64_t>(options_.checks_per_round));
  set(out.get(), "cuts", cuts_.load(std::memory_order_relaxed));
  set(out.get(), "cut_failures", cut_failures_.load(std::memory_order_relaxed));
  set(out.get(), "checks", checks_.load(std::memory_order_relaxed));
  set(out.get(), "check_rounds", rounds_.load(std::memory_order_relaxed));
  set(out.get(), "pending_trickles_sweep_mb",
      static_cast<std::uint64_t>(options_.sweep_growth_bytes >> 20));
  set(out.get(), "sweeps", sweeps_.load(std::memory_order_relaxed));
  const std::int64_t last = last_cut_us_.load(std::memory_order_relaxed);
  if (last >= 0) {
    set(out.get(), "last_cut_ms", adopt(json_real(static_cast<double>(last) / 1000.0)));
  }
  return out;
}

}  // namespace jmedia::transport
