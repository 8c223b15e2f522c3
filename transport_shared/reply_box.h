// Where the core's answers to the admin requests that the transport injects arrive.
//
// The transport injects a request with incoming_request(..., request_id, admin = TRUE, ...) and
// the core answers later through send_message(ts, request_id, TRUE, reply), on whichever thread
// processed the request (the core's requests thread, or a task-pool thread for message_plugin).
// send_message must never block: deliver() only takes a short lock to store the reply, or frees
// it at once when nobody waits for that id any more (a timed-out request, or one answered after
// the enforcer stopped). The waiting side (the enforcer thread) registers an id with expect(),
// injects, then wait()s with a deadline.
//
// Lifetime: the core may answer after the transport's destroy() (it closes transports before it
// stops its requests thread), so the module keeps one ReplyBox for the whole process.
#pragma once

#include <jansson.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "../common/json.h"

namespace jmedia::transport {

class ReplyBox {
 public:
  using Clock = std::chrono::steady_clock;

  ReplyBox() = default;
  ~ReplyBox();
  ReplyBox(const ReplyBox&) = delete;
  ReplyBox& operator=(const ReplyBox&) = delete;

  // A new request id (never 0), expected from now on.
  std::uint64_t expect();
  // A reply from the core; takes ownership of reply (freed when nobody expects id). Any thread,
  // never blocks beyond a short lock.
  void deliver(std::uint64_t id, json_t* reply) noexcept;
  // The reply for id, or null at the deadline or after interrupt(). Either way id is no longer
  // expected afterwards (a later reply is freed on arrival).
  JsonPtr wait(std::uint64_t id, Clock::time_point deadline);
  // Stops expecting id (e.g. it could not be injected).
  void forget(std::uint64_t id) noexcept;
  // Makes every wait() return null at once, until resume().
  void interrupt();
  void resume();

  // Ids expected now (tests, diagnostics).
  std::size_t expected() const;
  // Replies freed because nobody expected them any more.
  std::uint64_t discarded() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::unordered_map<std::uint64_t, json_t*> slots_;  // expected id -> reply (null until it comes)
  std::uint64_t next_id_ = 1;
  std::uint64_t discarded_ = 0;
  bool interrupted_ = false;
};

}  // namespace jmedia::transport
