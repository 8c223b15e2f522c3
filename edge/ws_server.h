// The Janus API over WebSocket (subprotocol janus-protocol, what janus.js asks for), on
// libwebsockets 4.1, with every bound of the edge on each connection.
//
// Threads. One service thread runs lws (on a libev loop: epoll) and owns every wsi: it reads,
// assembles and admits requests, writes, pings, and closes. The core's threads only reach a
// connection through its Endpoint (deliver): serialize, a bounded push onto the connection's
// Outbox, and when the box was empty a wake-up of the service thread (lws_cancel_service); they
// never touch lws otherwise and never wait for the service thread, which never waits for the core.
//
// Writing. The connection's own queue is written only when lws says the socket is writeable
// (LWS_CALLBACK_SERVER_WRITEABLE): a few frames of at most kChunk bytes each, stopping as soon as
// lws had to buffer a partial write, and re-armed (lws_callback_on_writable) only while there is
// something left, so a choked socket costs nothing until it drains. A connection that does not
// drain is a slow consumer: its box overflows (max_queued_messages, max_queued_bytes) or its
// oldest message waits send_timeout_ms, and it is closed with 1008 "slow consumer".
//
// Liveness. The edge pings every ping_interval_s itself and closes a connection whose pong has
// not come pong_timeout_s later; nothing else counts as alive (lws's own validity checks are
// off, and receiving requests does not refresh anything), so a client that sends but never
// reads is found out.
//
// Lock order: WsServer::wake_mutex_ and a connection's mutex are never held together; Outbox's
// lock is innermost.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "edge.h"

struct ev_loop;
struct lws;
struct lws_context;
struct lws_vhost;
struct lws_sorted_usec_list;

namespace jmedia::edge {

class WsConnection;

class WsServer {
 public:
  // What lws may hand at once; frames written of at most this many bytes.
  static constexpr std::size_t kChunk = 16 * 1024;

  explicit WsServer(Edge& edge);
  ~WsServer();
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  // Listens on the configured address and starts the service thread; false with a one-line
  // reason otherwise (nothing left open).
  bool start(std::string& error);
  // Stops the service thread and closes every connection (their sessions go with them).
  void stop() noexcept;
  std::uint16_t port() const { return port_; }
  // Which loop serves the connections: "libev (epoll)", or "its own poll() loop" when lws's
  // libev plugin is missing (start() said so).
  const char* event_loop() const {
    return loop_ != nullptr ? "libev (epoll)" : "its own poll() loop";
  }
  std::size_t connections() const { return open_.load(std::memory_order_relaxed); }

  // --- for the lws callbacks and the connections (implementation details) -----------------
  int callback(lws* wsi, int reason, void* user, void* in, std::size_t len);
  // A connection has something to write, or must be closed: wake the service thread for it.
  // Any thread.
  void wake(const std::shared_ptr<WsConnection>& connection);
  Edge& edge() { return edge_; }
  void library_message(int level, const char* line) noexcept;
  // lws frees wsi (service thread).
  void destroyed(lws* wsi);

 private:
  void run() noexcept;
  void destroy_loop() noexcept;
  void tick();
  static void on_tick(lws_sorted_usec_list* sul);
  void drain_wakes();
  void established(lws* wsi, void* user);
  void closed(lws* wsi, void* user);

  Edge& edge_;
  struct ev_loop* loop_ = nullptr;  // ours, lws runs on it; null: lws's own poll() loop
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> open_{0};
  struct Tick;
  std::unique_ptr<Tick> tick_;

  // Service thread only.
  std::unordered_map<WsConnection*, std::shared_ptr<WsConnection>> connections_;
  // Connections the edge closed, still in lws's close handshake: cut at their deadline (lws
  // would wait for the close's answer for seconds, reading what the client still sends).
  std::unordered_map<lws*, std::chrono::steady_clock::time_point> lingering_;

  std::mutex wake_mutex_;
  std::vector<std::shared_ptr<WsConnection>> wakes_;
  std::vector<std::shared_ptr<WsConnection>> draining_;  // service thread only

  std::atomic<bool> starting_{false};
  std::mutex start_messages_mutex_;
  std::vector<std::string> start_messages_;
};

}  // namespace jmedia::edge
