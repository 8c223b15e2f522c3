// A stand-in for the Janus core behind the edge's servers: transport sessions of its own
// (reference counted like the core's), requests recorded and answered from a thread of its own
// (as the core's requests thread would), events pushed to a session's endpoint on demand.
#pragma once

#include <jansson.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../edge/edge.h"
#include "../unit/eventually.h"

namespace jmedia::testing {

class FakeCore final : public edge::CoreLink {
 public:
  // What the fake answers a request with (null: no answer). Default: success (pong for ping),
  // with data.id for create and attach, and session_created for create.
  using Answerer = std::function<json_t*(janus_transport_session*, const json_t* request)>;

  FakeCore() : worker_([this] { run(); }) {}
  ~FakeCore() override {
    stop();
    for (json_t* r : requests_) json_decref(r);
  }
  // Answers what is queued, then no more; the sessions it held as sources go. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      stop_ = true;
    }
    wake_.notify_all();
    worker_.join();
    std::vector<janus_transport_session*> sources;
    {
      std::lock_guard lock(mutex_);
      sources.swap(sources_);
    }
    for (janus_transport_session* session : sources) release(session);
  }

  janus_transport_session* create_session(void* transport_p, void (*p_free)(void*)) override {
    auto* session = new janus_transport_session{};
    session->transport_p = transport_p;
    session->p_free = p_free;
    session->ref.count = 1;
    session->ref.free = nullptr;
    created_.fetch_add(1);
    return session;
  }
  void destroy_session(janus_transport_session* session) override {
    // (The core's janus_transport_session_destroy: marks it destroyed once, drops a reference.)
    auto* destroyed = const_cast<gint*>(&session->destroyed);
    if (__atomic_exchange_n(destroyed, 1, __ATOMIC_ACQ_REL) == 0) release(session);
  }
  void hold(janus_transport_session* session) override {
    __atomic_add_fetch(&session->ref.count, 1, __ATOMIC_ACQ_REL);
  }
  void release(janus_transport_session* session) override {
    if (__atomic_sub_fetch(&session->ref.count, 1, __ATOMIC_ACQ_REL) == 0) {
      if (session->p_free != nullptr) session->p_free(session->transport_p);
      delete session;
      freed_.fetch_add(1);
    }
  }
  void incoming_request(janus_transport_session* session, std::uint64_t request_id,
                        json_t* request) override {
    hold(session);
    std::lock_guard lock(mutex_);
    requests_.push_back(json_incref(request));
    queue_.push_back({session, request_id, request});
    wake_.notify_all();
  }
  void transport_gone(janus_transport_session* session) override {
    std::lock_guard lock(mutex_);
    gone_.insert(session);
  }
  void notify(janus_transport_session* /*session*/, json_t* event) override { json_decref(event); }
  bool api_secret_needed() override { return false; }
  bool api_secret_valid(const char* /*secret*/) override { return true; }
  bool auth_token_needed() override { return false; }
  bool auth_token_valid(const char* /*token*/) override { return true; }

  // Sends an event to a session's endpoint, as the core's send_message(session, NULL, ...).
  static void send_event(janus_transport_session* session, json_t* event) {
    static_cast<edge::EndpointRef*>(session->transport_p)->endpoint->deliver(0, JsonPtr(event));
  }

  void set_answerer(Answerer answerer) {
    std::lock_guard lock(mutex_);
    answerer_ = std::move(answerer);
  }
  std::size_t requests() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  // The n-th request received (a reference of ours).
  std::string request_text(std::size_t n) const {
    std::lock_guard lock(mutex_);
    if (n >= requests_.size()) return "";
    char* text = json_dumps(requests_[n], JSON_COMPACT);
    std::string out(text != nullptr ? text : "");
    free(text);
    return out;
  }
  bool gone(janus_transport_session* session) const {
    std::lock_guard lock(mutex_);
    return gone_.count(session) != 0;
  }
  std::size_t gone_count() const {
    std::lock_guard lock(mutex_);
    return gone_.size();
  }
  // The session of the last create answered (the WebSocket connection's, or an HTTP request's).
  janus_transport_session* last_creator() const {
    std::lock_guard lock(mutex_);
    return last_creator_;
  }
  std::uint64_t last_session_id() const { return last_session_id_.load(); }

  bool wait_until(const std::function<bool()>& done,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return testing::eventually(done, timeout);
  }

 private:
  struct Item {
    janus_transport_session* session;
    std::uint64_t id;
    json_t* request;
  };

  json_t* default_answer(janus_transport_session* session, const json_t* request) {
    const char* janus = json_string_value(json_object_get(request, "janus"));
    const char* transaction = json_string_value(json_object_get(request, "transaction"));
    json_t* answer = json_object();
    const std::string verb = janus != nullptr ? janus : "";
    json_object_set_new(answer, "janus", json_string(verb == "ping" ? "pong" : "success"));
    if (transaction != nullptr)
      json_object_set_new(answer, "transaction", json_string(transaction));
    if (verb == "create" || verb == "attach") {
      const std::uint64_t id = next_id_.fetch_add(1);
      json_t* data = json_object();
      json_object_set_new(data, "id", json_integer(static_cast<json_int_t>(id)));
      json_object_set_new(answer, "data", data);
      if (verb == "create") {
        // As the core's session->source: a reference for as long as the session lives.
        hold(session);
        auto* ref = static_cast<edge::EndpointRef*>(session->transport_p);
        ref->endpoint->session_created(session, id);
        std::lock_guard lock(mutex_);
        sources_.push_back(session);
        last_creator_ = session;
        last_session_id_.store(id);
      }
    }
    return answer;
  }

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_ && queue_.empty()) return;
      Item item = queue_.front();
      queue_.pop_front();
      Answerer answerer = answerer_;
      lock.unlock();
      json_t* answer = answerer ? answerer(item.session, item.request)
                                : default_answer(item.session, item.request);
      if (answer != nullptr) {
        static_cast<edge::EndpointRef*>(item.session->transport_p)
            ->endpoint->deliver(item.id, JsonPtr(answer));
      }
      json_decref(item.request);
      release(item.session);
      lock.lock();
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::vector<json_t*> requests_;
  std::set<janus_transport_session*> gone_;
  std::vector<janus_transport_session*> sources_;
  janus_transport_session* last_creator_ = nullptr;
  std::atomic<std::uint64_t> last_session_id_{0};
  std::atomic<std::uint64_t> next_id_{1000};
  std::atomic<int> created_{0};
  std::atomic<int> freed_{0};
  Answerer answerer_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace jmedia::testing
