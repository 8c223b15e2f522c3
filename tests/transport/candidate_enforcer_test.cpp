// CandidateEnforcer against a fake core: a thread that answers injected admin requests through
// the ReplyBox the way Janus 1.1.2 does (janus.c: handle_info, message_plugin, hangup_webrtc,
// detach_handle, list_sessions; error 403 without the admin secret, 459 for unknown handles).
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../transport/candidate_enforcer.h"
#include "../unit/eventually.h"

namespace jmedia::transport {
namespace {

using runtime::CandidateLedger;
using runtime::CutReason;
using runtime::HandleKey;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kMedia = "janus.plugin.media";
constexpr std::string_view kEcho = "janus.plugin.echotest";

HandleKey key(std::uint64_t handle, std::uint64_t session = 42) {
  return HandleKey{session, handle};
}

std::string text_of(const json_t* object, const char* name) {
  const json_t* value = json_object_get(object, name);
  return json_is_string(value) ? json_string_value(value) : "";
}

class FakeCore final : public AdminGateway {
 public:
  struct Handle {
    std::string media_session;  // empty: not a janus.plugin.media handle
    std::int64_t pending_trickles = 0;
  };
  struct Seen {
    std::string janus;
    std::uint64_t handle_id = 0;
    std::uint64_t session_id = 0;
    std::string secret;
    bool plugin_only = false;
    std::string kick_session;
    std::string kick_reason;
    Clock::time_point at;
  };

  explicit FakeCore(ReplyBox& box) : box_(box), thread_([this] { serve(); }) {}
  ~FakeCore() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    for (auto& late : late_) late.join();
  }

  bool inject(std::uint64_t id, JsonPtr request) override {
    std::lock_guard lock(mutex_);
    if (throws_ > 0) {
      --throws_;
      throw std::runtime_error("fake core: inject failed");
    }
    if (refuse_) return false;
    queue_.emplace_back(id, std::move(request));
    wake_.notify_all();
    return true;
  }

  void add(const HandleKey& k, Handle handle) {
    std::lock_guard lock(mutex_);
    handles_[k] = std::move(handle);
  }
  bool has(const HandleKey& k) {
    std::lock_guard lock(mutex_);
    return handles_.count(k) != 0;
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t count(const std::string& janus) {
    std::size_t n = 0;
    for (const auto& s : seen()) n += s.janus == janus;
    return n;
  }
  void require_secret(std::string secret) {
    std::lock_guard lock(mutex_);
    secret_ = std::move(secret);
  }
  void delay(const std::string& janus, milliseconds by) {
    std::lock_guard lock(mutex_);
    delays_[janus] = by;
  }
  void mute(bool muted) {
    std::lock_guard lock(mutex_);
    muted_ = muted;
  }
  void refuse(bool refused) {
    std::lock_guard lock(mutex_);
    refuse_ = refused;
  }
  // The next n injects throw (as a bad_alloc in the real gateway would).
  void throw_next(int n) {
    std::lock_guard lock(mutex_);
    throws_ = n;
  }
  int throws_left() {
    std::lock_guard lock(mutex_);
    return throws_;
  }
  // Called (outside the lock) after each hangup_webrtc: the test plays the event handler,
  // which reports the core's hangup event to the ledger.
  void on_hangup(std::function<void(const HandleKey&)> hook) {
    std::lock_guard lock(mutex_);
    on_hangup_ = std::move(hook);
  }

  // Polls cond (bounded) until it holds.
  static bool eventually(const std::function<bool()>& cond,
                         milliseconds timeout = milliseconds{5000}) {
    return jmedia::testing::eventually(cond, timeout);
  }

 private:
  static json_t* error(int code, const char* reason) {
    return json_pack("{s:s,s:{s:i,s:s}}", "janus", "error", "error", "code", code, "reason",
                     reason);
  }

  // Under mutex_.
  json_t* answer(const json_t* request, Seen& seen) {
    seen.janus = text_of(request, "janus");
    seen.secret = text_of(request, "admin_secret");
    const json_t* handle_id = json_object_get(request, "handle_id");
    const json_t* session_id = json_object_get(request, "session_id");
    seen.handle_id = json_is_integer(handle_id) ? json_integer_value(handle_id) : 0;
    seen.session_id = json_is_integer(session_id) ? json_integer_value(session_id) : 0;
    seen.plugin_only = json_is_true(json_object_get(request, "plugin_only"));
    if (text_of(request, "transaction").rfind("jmedia-cap-", 0) != 0) {
      return error(456, "Missing mandatory element (transaction)");
    }
    if (!secret_.empty() && seen.secret != secret_) return error(403, "Unauthorized request");
    if (seen.janus == "list_sessions")
      return json_pack("{s:s,s:[]}", "janus", "success", "sessions");
    if (seen.janus == "message_plugin") {
      const json_t* body = json_object_get(request, "request");
      seen.kick_session = text_of(body, "media_session");
      seen.kick_reason = text_of(body, "reason");
      const bool known = text_of(request, "plugin") == kMedia && text_of(body, "request") == "kick";
      return json_pack("{s:s,s:{s:s,s:i}}", "janus", "success", "response", "media", "kick",
                       "kicked", known ? 1 : 0);
    }
    const HandleKey k{json_is_integer(session_id)
                          ? static_cast<std::uint64_t>(json_integer_value(session_id))
                          : 0,
                      seen.handle_id};
    auto it = handles_.find(k);
    if (it == handles_.end()) return error(459, "No such handle");
    if (seen.janus == "handle_info") {
      json_t* info = json_object();
      if (!it->second.media_session.empty()) {
        json_object_set_new(info, "plugin_specific",
                            json_pack("{s:s}", "media_session", it->second.media_session.c_str()));
      }
      if (!seen.plugin_only && it->second.pending_trickles > 0) {
        json_object_set_new(info, "pending-trickles", json_integer(it->second.pending_trickles));
      }
      return json_pack("{s:s,s:o}", "janus", "success", "info", info);
    }
    if (seen.janus == "hangup_webrtc") return json_pack("{s:s}", "janus", "success");
    if (seen.janus == "detach_handle") {
      handles_.erase(it);
      return json_pack("{s:s}", "janus", "success");
    }
    return error(457, "Unhandled request");
  }

  void serve() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      auto [id, request] = std::move(queue_.front());
      queue_.pop_front();
      Seen seen;
      seen.at = Clock::now();
      json_t* reply = answer(request.get(), seen);
      seen_.push_back(seen);
      const auto delay = delays_.count(seen.janus) ? delays_[seen.janus] : milliseconds{0};
      if (muted_) {
        json_decref(reply);
      } else if (delay.count() > 0) {
        // Answered later from another thread, as message_plugin is from the core's task pool
        // while its requests thread goes on.
        late_.emplace_back([this, id = id, reply, delay] {
          std::this_thread::sleep_for(delay);
          box_.deliver(id, reply);
        });
      } else {
        auto hook = seen.janus == "hangup_webrtc" ? on_hangup_ : nullptr;
        const HandleKey k{seen.session_id, seen.handle_id};
        lock.unlock();
        box_.deliver(id, reply);  // as send_message() does
        if (hook) hook(k);
        lock.lock();
      }
    }
  }

  ReplyBox& box_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::uint64_t, JsonPtr>> queue_;
  std::map<HandleKey, Handle> handles_;
  std::vector<Seen> seen_;
  std::map<std::string, milliseconds> delays_;
  std::string secret_;
  bool muted_ = false;
  bool refuse_ = false;
  int throws_ = 0;
  bool stop_ = false;
  std::vector<std::thread> late_;
  std::function<void(const HandleKey&)> on_hangup_;
  std::thread thread_;
};

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override { ledger_.start_feeding(runtime::LedgerConfig{.max_ice_candidates = 3}); }
  void TearDown() override {
    if (enforcer_) enforcer_->stop();
  }

  void start(EnforcerOptions options) {
    enforcer_ =
        std::make_unique<CandidateEnforcer>(ledger_, core_, box_, registry_, std::move(options));
    std::string error;
    ASSERT_TRUE(enforcer_->start(error)) << error;
    // The start-up probe.
    ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("list_sessions") == 1; }));
  }
  EnforcerOptions defaults() {
    EnforcerOptions options;
    options.admin_secret = "s3cret";
    options.check_interval = milliseconds{0};
    options.sweep_growth_bytes = 0;  // the tests that want sweeps fake the memory
    return options;
  }

  // A handle attached to plugin in both the ledger and the fake core.
  void attach(const HandleKey& k, std::string_view plugin, FakeCore::Handle handle = {}) {
    ASSERT_TRUE(ledger_.attached(k, plugin));
    core_.add(k, std::move(handle));
  }
  void flood(const HandleKey& k, int n) {
    for (int i = 0; i < n; ++i) ledger_.remote_candidate(k);
  }
  double cut(CutReason reason) {
    return static_cast<double>(ledger_.stats().cut[static_cast<std::size_t>(reason)]);
  }
  std::int64_t described(const char* name) {
    JsonPtr d = enforcer_->describe();
    return json_integer_value(json_object_get(d.get(), name));
  }

  // Janus's resident memory as the enforcer sees it: set by the test, read once per
  // memory_poll (and once after a sweep), each read counted.
  struct Memory {
    std::atomic<std::uint64_t> bytes{100u << 20};
    std::atomic<std::uint64_t> reads{0};
  };
  void fake_memory(EnforcerOptions& options) {
    options.memory_poll = milliseconds{5};
    options.resident_bytes = [memory = memory_] {
      memory->reads.fetch_add(1);  // before the load: a read counted after a store sees it
      return memory->bytes.load();
    };
  }
  // Waits (bounded) for n more reads than now. After a store, n = 2: the first read sees the
  // value, and the second comes once the enforcer acted on it (a sweep it started is over).
  // Right after start(), n = 2 also means the baseline was taken.
  bool memory_read(std::uint64_t n) {
    const std::uint64_t from = memory_->reads.load();
    return FakeCore::eventually([&] { return memory_->reads.load() >= from + n; });
  }
  void set_memory(std::uint64_t bytes) { memory_->bytes.store(bytes); }
  std::uint64_t memory() const { return memory_->bytes.load(); }
  std::vector<std::string> sequence_for(std::uint64_t handle) {
    std::vector<std::string> out;
    for (const auto& s : core_.seen()) {
      if (s.handle_id == handle || (s.janus == "message_plugin" && handle != 0)) {
        out.push_back(s.janus);
      }
    }
    return out;
  }

  prometheus::Registry registry_;
  CandidateLedger ledger_{registry_};
  ReplyBox box_;
  FakeCore core_{box_};
  std::unique_ptr<CandidateEnforcer> enforcer_;
  std::shared_ptr<Memory> memory_ = std::make_shared<Memory>();
};

TEST_F(EnforcerTest, AMediaHandleIsToldThenHungUpAndDetached) {
  start(defaults());
  attach(key(1), kMedia, {.media_session = "ms-1"});
  const auto over = Clock::now();
  flood(key(1), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return !core_.has(key(1)); }));
  ASSERT_TRUE(FakeCore::eventually([&] { return cut(CutReason::kTooManyCandidates) == 1; }));
  EXPECT_LT(Clock::now() - over, milliseconds{1000});
  EXPECT_EQ(enforcer_->cuts(), 1u);
  EXPECT_EQ(sequence_for(1), (std::vector<std::string>{"handle_info", "message_plugin",
                                                       "hangup_webrtc", "detach_handle"}));
  for (const auto& s : core_.seen()) {
    EXPECT_EQ(s.secret, "s3cret") << s.janus;
    if (s.janus == "handle_info") {
      EXPECT_TRUE(s.plugin_only);
    }
    if (s.janus == "message_plugin") {
      EXPECT_EQ(s.kick_session, "ms-1");
      EXPECT_EQ(s.kick_reason, "too_many_candidates");
    }
  }
  EXPECT_EQ(enforcer_->cuts(), 1u);
  const std::string text = prometheus::TextSerializer().Serialize(registry_.Collect());
  EXPECT_NE(text.find("janus_transport_admin_requests_total{request=\"detach_handle\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("janus_transport_handle_cut_duration_seconds_count 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("janus_core_handles_cut_total{reason=\"too_many_candidates\"} 1"),
            std::string::npos)
      << text;
}

// The detach waits for the hangup to be reported (so that the core still tells the client),
// and no longer than hangup_wait when it never is.
TEST_F(EnforcerTest, TheDetachFollowsTheReportedHangup) {
  EnforcerOptions options = defaults();
  options.hangup_wait = milliseconds{300};
  start(options);
  core_.on_hangup([&](const HandleKey& k) {
    std::this_thread::sleep_for(milliseconds{20});  // the handle loop, then the events thread
    ledger_.peerconnection_closed(k);
  });
  attach(key(20), kEcho);
  flood(key(20), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("detach_handle") == 1; }));
  Clock::time_point hangup_at, detach_at;
  for (const auto& s : core_.seen()) {
    if (s.janus == "hangup_webrtc") hangup_at = s.at;
    if (s.janus == "detach_handle") detach_at = s.at;
  }
  EXPECT_GE(detach_at - hangup_at, milliseconds{15});
  EXPECT_LT(detach_at - hangup_at, milliseconds{250}) << "waited for nothing";

  core_.on_hangup(nullptr);  // no hangup event: e.g. the core had no PeerConnection to close
  attach(key(21), kEcho);
  flood(key(21), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("detach_handle") == 2; }));
  for (const auto& s : core_.seen()) {
    if (s.janus == "hangup_webrtc") hangup_at = s.at;
    if (s.janus == "detach_handle") detach_at = s.at;
  }
  EXPECT_GE(detach_at - hangup_at, milliseconds{280});
  EXPECT_LT(detach_at - hangup_at, milliseconds{900});

  // A handle without a PeerConnection (pending trickles only) is detached at once.
  attach(key(22), kEcho);
  ASSERT_TRUE(ledger_.queue_cut(key(22), CutReason::kPendingTrickles, 99));
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("detach_handle") == 3; }));
  for (const auto& s : core_.seen()) {
    if (s.janus == "hangup_webrtc") hangup_at = s.at;
    if (s.janus == "detach_handle") detach_at = s.at;
  }
  EXPECT_LT(detach_at - hangup_at, milliseconds{200});
}

TEST_F(EnforcerTest, OtherPluginsHandlesAreHungUpAndDetachedWithoutAsking) {
  start(defaults());
  attach(key(2), kEcho);
  flood(key(2), 10);
  ASSERT_TRUE(FakeCore::eventually([&] { return cut(CutReason::kTooManyCandidates) == 1; }));
  EXPECT_FALSE(core_.has(key(2)));
  EXPECT_EQ(sequence_for(2), (std::vector<std::string>{"hangup_webrtc", "detach_handle"}));
  EXPECT_EQ(core_.count("message_plugin"), 0u);
}

TEST_F(EnforcerTest, ASlowAnswerDoesNotHoldTheHangupBeyondTheTellBudget) {
  EnforcerOptions options = defaults();
  options.tell_budget = milliseconds{100};
  start(options);
  core_.delay("message_plugin", milliseconds{600});  // a plugin slow to answer the kick
  attach(key(3), kMedia, {.media_session = "ms-3"});
  const auto over = Clock::now();
  flood(key(3), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("hangup_webrtc") == 1; }));
  Clock::time_point hangup_at;
  for (const auto& s : core_.seen()) {
    if (s.janus == "hangup_webrtc") hangup_at = s.at;
  }
  EXPECT_LT(hangup_at - over, milliseconds{400}) << "the hangup waited for the slow kick";
  EXPECT_EQ(core_.count("message_plugin"), 1u);
  ASSERT_TRUE(FakeCore::eventually([&] { return !core_.has(key(3)); }));
  EXPECT_LT(Clock::now() - over, milliseconds{1000});
}

TEST_F(EnforcerTest, AHandleGoneMeanwhileIsNotCountedAsCut) {
  start(defaults());
  ASSERT_TRUE(ledger_.attached(key(4), kEcho));  // not in the fake core: detached already
  flood(key(4), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("detach_handle") == 1; }));
  // The enforcer is done with the detach's answer once it counts the failure.
  ASSERT_TRUE(FakeCore::eventually([&] { return described("cut_failures") == 1; }));
  EXPECT_EQ(cut(CutReason::kTooManyCandidates), 0);
  EXPECT_EQ(enforcer_->cuts(), 0u);
}

TEST_F(EnforcerTest, PendingTricklesOfUnnegotiatedHandlesAreCheckedAndCut) {
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{50};
  start(options);
  attach(key(10), kMedia, {.media_session = "ms-10", .pending_trickles = 2});  // within the cap
  attach(key(11), kMedia, {.media_session = "ms-11", .pending_trickles = 40});
  attach(key(12), kEcho, {.pending_trickles = 4});
  attach(key(13), kEcho, {.pending_trickles = 500});
  ledger_.remote_sdp(key(13));
  ledger_.local_sdp(key(13));  // negotiated: the core parses its trickles, never checked
  ASSERT_TRUE(FakeCore::eventually([&] { return cut(CutReason::kPendingTrickles) == 2; }));
  EXPECT_TRUE(core_.has(key(10)));
  EXPECT_FALSE(core_.has(key(11)));
  EXPECT_FALSE(core_.has(key(12)));
  EXPECT_TRUE(core_.has(key(13)));
  bool kicked = false;
  for (const auto& s : core_.seen()) {
    EXPECT_NE(s.handle_id, 13u) << s.janus << " on a negotiated handle";
    if (s.janus == "message_plugin") {
      EXPECT_EQ(s.kick_session, "ms-11");
      EXPECT_EQ(s.kick_reason, "too_many_candidates");
      kicked = true;
    }
  }
  EXPECT_TRUE(kicked);
  EXPECT_EQ(cut(CutReason::kTooManyCandidates), 0);
  // Handle 10 keeps being checked, round after round.
  const std::size_t before = core_.count("handle_info");
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("handle_info") >= before + 2; }));
}

TEST_F(EnforcerTest, ChecksAreBoundedPerRound) {
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{200};
  options.checks_per_round = 5;
  options.window = 2;
  for (std::uint64_t h = 100; h < 130; ++h) attach(key(h), kEcho);
  start(options);
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("handle_info") >= 10; }));
  // Checks counted first, rounds then: every check counted belongs to a round counted.
  const std::uint64_t checks = enforcer_->checks();
  const std::int64_t rounds = described("check_rounds");
  EXPECT_LE(checks, static_cast<std::uint64_t>(rounds) * 5) << rounds << " rounds";
  // As the core saw them: the second round's first request came at least check_interval after
  // the first round's last (the interval runs from the first round's end), and round robin
  // gave the first 10 checks 10 different handles.
  std::vector<FakeCore::Seen> infos;
  for (const auto& s : core_.seen()) {
    if (s.janus == "handle_info" && infos.size() < 10) infos.push_back(s);
  }
  ASSERT_EQ(infos.size(), 10u);
  EXPECT_GE(infos[5].at - infos[4].at, options.check_interval) << "a second round came too early";
  std::set<std::uint64_t> handles;
  for (const auto& s : infos) handles.insert(s.handle_id);
  EXPECT_EQ(handles.size(), 10u);
}

// Memory growth triggers a sweep of every unnegotiated handle, well before the next round and
// beyond checks_per_round; at most one sweep per sweep_gap (and check interval).
TEST_F(EnforcerTest, MemoryGrowthSweepsEveryUnnegotiatedHandle) {
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{60000};  // no ordinary round during the test
  options.checks_per_round = 5;
  options.sweep_growth_bytes = 10u << 20;
  fake_memory(options);
  for (std::uint64_t h = 200; h < 240; ++h) attach(key(h), kEcho);
  attach(key(240), kMedia, {.media_session = "ms-240", .pending_trickles = 100});
  start(options);
  ASSERT_TRUE(memory_read(2));  // the baseline is taken, and one poll saw no growth
  EXPECT_EQ(enforcer_->checks(), 0u) << "no growth, no round yet";
  set_memory(memory() + (11u << 20));
  ASSERT_TRUE(FakeCore::eventually([&] { return cut(CutReason::kPendingTrickles) == 1; }));
  EXPECT_EQ(enforcer_->sweeps(), 1u);
  EXPECT_EQ(enforcer_->checks(), 41u) << "every unnegotiated handle, not checks_per_round";
  EXPECT_FALSE(core_.has(key(240)));
  set_memory(memory() + (30u << 20));  // more growth within the same interval: no second sweep
  ASSERT_TRUE(memory_read(2));
  EXPECT_EQ(enforcer_->sweeps(), 1u);
}

TEST_F(EnforcerTest, TheSweepBaselineFollowsMemoryDown) {
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{60000};
  options.sweep_growth_bytes = 10u << 20;
  fake_memory(options);
  attach(key(300), kEcho);
  start(options);
  ASSERT_TRUE(memory_read(2));
  set_memory(50u << 20);  // memory freed
  ASSERT_TRUE(memory_read(2));
  set_memory(58u << 20);  // +8 MB over the new low: no sweep
  ASSERT_TRUE(memory_read(2));
  EXPECT_EQ(enforcer_->sweeps(), 0u);
  set_memory(61u << 20);  // +11 MB: sweep
  ASSERT_TRUE(FakeCore::eventually([&] { return enforcer_->sweeps() == 1; }));
  ASSERT_TRUE(FakeCore::eventually([&] { return enforcer_->checks() == 1; }));
}

// Ordinary rounds (one handle each) go on after the growth; none of them sweeps.
TEST_F(EnforcerTest, NoSweepWhenItIsOff) {
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{20};
  options.checks_per_round = 1;
  options.sweep_growth_bytes = 0;
  fake_memory(options);
  attach(key(301), kEcho);
  attach(key(302), kEcho);
  start(options);
  set_memory(memory() + (1u << 30));
  // At most one round decided before the growth can still be under way: two more checks
  // include a round decided after it.
  const std::uint64_t from = enforcer_->checks();
  ASSERT_TRUE(FakeCore::eventually([&] { return enforcer_->checks() >= from + 2; }));
  EXPECT_EQ(enforcer_->sweeps(), 0u);
  EXPECT_EQ(memory_->reads.load(), 0u) << "memory is not even sampled";
}

// The core's events thread takes the ledger's mutex for every event: a sweep of 100,000
// unnegotiated handles must not hold it while it lists all of them. A feeder thread reports
// events as the events thread does while the sweep runs; the listing's lock holds are bounded
// (structurally: the most handles copied under one hold) and so is the feeder's longest call.
TEST_F(EnforcerTest, ASweepOfManyHandlesDoesNotStallTheEventsThread) {
  constexpr std::uint64_t kHandles = 100000;
  constexpr std::uint64_t kChecked = 3000;  // well into the sweep, in either shape
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{60000};  // only the sweep
  options.sweep_growth_bytes = 10u << 20;
  fake_memory(options);
  for (std::uint64_t h = 1; h <= kHandles; ++h) attach(key(h), kEcho);
  start(options);
  ASSERT_TRUE(memory_read(2));  // the baseline is taken

  std::atomic<bool> done{false};
  std::chrono::nanoseconds worst{0};
  std::atomic<std::uint64_t> calls{0};
  std::thread feeder([&] {
    // Another session's handles: attach, candidates within the cap, detach.
    for (std::uint64_t i = 0; !done.load(std::memory_order_acquire); ++i) {
      const HandleKey k = key(1 + i % 64, 7);
      const std::array<std::function<void()>, 3> events = {[&] { ledger_.attached(k, kEcho); },
                                                           [&] { ledger_.remote_candidate(k); },
                                                           [&] { ledger_.detached(k); }};
      for (const auto& event : events) {
        const auto t0 = Clock::now();
        event();
        const auto took = Clock::now() - t0;
        // Read after the call: a call held up by the sweep ends after the sweep began.
        if (enforcer_->sweeps() > 0) {
          worst = std::max(worst, took);
          calls.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  });
  set_memory(memory() + (11u << 20));
  // Well into the sweep, and the feeder ran alongside it.
  const bool swept = FakeCore::eventually(
      [&] { return enforcer_->checks() >= kChecked && calls.load() >= 1000; }, milliseconds{60000});
  done.store(true, std::memory_order_release);
  feeder.join();
  ASSERT_TRUE(swept) << enforcer_->checks() << " checks, " << calls.load() << " feeder calls";
  EXPECT_EQ(enforcer_->sweeps(), 1u);
  const std::size_t slice = ledger_.stats().longest_slice;
  std::printf(
      "[ sweep    ] %llu handles: feeder's longest call %.3f ms (%llu calls during the "
      "sweep), at most %zu handles listed per lock hold\n",
      static_cast<unsigned long long>(kHandles),
      std::chrono::duration<double, std::milli>(worst).count(),
      static_cast<unsigned long long>(calls.load()), slice);
  EXPECT_GE(slice, 1u);
  EXPECT_LE(slice, CandidateLedger::kMaxSlice) << "a lock hold listed " << slice << " handles";
}

TEST_F(EnforcerTest, AnUnauthorizedAnswerStopsEnforcingAndTheLedgerOnlyCounts) {
  core_.require_secret("the-real-one");
  enforcer_ = std::make_unique<CandidateEnforcer>(ledger_, core_, box_, registry_, defaults());
  std::string error;
  ASSERT_TRUE(enforcer_->start(error)) << error;
  ASSERT_TRUE(FakeCore::eventually([&] { return !enforcer_->enforcing(); }));
  EXPECT_FALSE(ledger_.enforced());
  attach(key(5), kEcho);
  EXPECT_EQ(ledger_.remote_candidate(key(5)), runtime::CandidateOutcome::kCounted);
  flood(key(5), 2);
  EXPECT_EQ(ledger_.remote_candidate(key(5)), runtime::CandidateOutcome::kOverNoEnforcer);
  EXPECT_EQ(ledger_.remote_candidate(key(5)), runtime::CandidateOutcome::kRejected);
  EXPECT_TRUE(core_.has(key(5)));
  enforcer_->stop();
  EXPECT_FALSE(enforcer_->running());
}

TEST_F(EnforcerTest, WithoutASecretNoneIsSent) {
  EnforcerOptions options = defaults();
  options.admin_secret.reset();
  start(options);
  for (const auto& s : core_.seen()) EXPECT_EQ(s.secret, "");
}

TEST_F(EnforcerTest, OnlyOneEnforcerPerLedger) {
  start(defaults());
  prometheus::Registry other;
  CandidateEnforcer second(ledger_, core_, box_, other, defaults());
  std::string error;
  EXPECT_FALSE(second.start(error));
  EXPECT_FALSE(error.empty());
}

TEST_F(EnforcerTest, StopIsPromptWhileTheCoreDoesNotAnswer) {
  EnforcerOptions options = defaults();
  options.reply_timeout = milliseconds{30000};
  options.tell_budget = milliseconds{30000};
  start(options);
  core_.mute(true);  // from now on nothing is answered
  attach(key(6), kMedia, {.media_session = "ms-6"});
  flood(key(6), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("handle_info") == 1; }));
  const auto t0 = Clock::now();
  enforcer_->stop();
  EXPECT_LT(Clock::now() - t0, milliseconds{2000});
  EXPECT_FALSE(enforcer_->running());
  EXPECT_FALSE(ledger_.enforced());
  enforcer_->stop();  // twice: harmless
}

TEST_F(EnforcerTest, StopIsPromptDuringTheStartUpProbe) {
  EnforcerOptions options = defaults();
  options.reply_timeout = milliseconds{30000};
  core_.mute(true);
  enforcer_ = std::make_unique<CandidateEnforcer>(ledger_, core_, box_, registry_, options);
  std::string error;
  ASSERT_TRUE(enforcer_->start(error)) << error;
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.count("list_sessions") == 1; }));
  const auto t0 = Clock::now();
  enforcer_->stop();
  EXPECT_LT(Clock::now() - t0, milliseconds{2000});
}

TEST_F(EnforcerTest, ARequestThatCannotBeHandedOverIsCountedAndForgotten) {
  start(defaults());
  core_.refuse(true);
  attach(key(7), kEcho);
  flood(key(7), 4);
  ASSERT_TRUE(FakeCore::eventually([&] {
    const std::string text = prometheus::TextSerializer().Serialize(registry_.Collect());
    return text.find("janus_transport_admin_request_failures_total{reason=\"not_sent\"} 2") !=
           std::string::npos;
  }));
  EXPECT_EQ(box_.expected(), 0u);
  EXPECT_EQ(cut(CutReason::kTooManyCandidates), 0);
}

TEST_F(EnforcerTest, AThrowDuringACutIsLoggedAndTheNextHandleIsStillCut) {
  start(defaults());
  core_.throw_next(1);
  attach(key(8), kEcho);
  flood(key(8), 4);  // its hangup_webrtc throws on the enforcer's thread
  ASSERT_TRUE(FakeCore::eventually([&] { return core_.throws_left() == 0; }));
  attach(key(9), kEcho);
  flood(key(9), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return !core_.has(key(9)); }))
      << "the enforcer's thread stopped at the throw";
  EXPECT_TRUE(enforcer_->enforcing());
}

TEST_F(EnforcerTest, DescribeForQueryTransport) {
  EnforcerOptions options = defaults();
  options.check_interval = milliseconds{250};
  start(options);
  attach(key(8), kEcho);
  flood(key(8), 4);
  ASSERT_TRUE(FakeCore::eventually([&] { return enforcer_->cuts() == 1; }));
  JsonPtr d = enforcer_->describe();
  EXPECT_TRUE(json_is_true(json_object_get(d.get(), "enforcing")));
  EXPECT_TRUE(json_is_true(json_object_get(d.get(), "admin_secret")));
  EXPECT_EQ(json_integer_value(json_object_get(d.get(), "pending_trickles_check_ms")), 250);
  EXPECT_EQ(json_integer_value(json_object_get(d.get(), "cuts")), 1);
  EXPECT_TRUE(json_is_real(json_object_get(d.get(), "last_cut_ms")));
}

}  // namespace
}  // namespace jmedia::transport
