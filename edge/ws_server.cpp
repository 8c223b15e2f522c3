#include "ws_server.h"

#include <ev.h>
#include <libwebsockets.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "../common/abi_guard.h"
#include "../common/log.h"
#include "message_assembler.h"
#include "outbox.h"

namespace jmedia::edge {
namespace {

constexpr const char* kProtocol = "janus-protocol";
constexpr auto kServiceTick = std::chrono::milliseconds(100);
// Frames and bytes written in one writeable callback at most, so one busy connection does not
// hold the service thread from the others.
constexpr int kFramesPerWrite = 32;
constexpr std::size_t kBytesPerWrite = std::size_t{256} * 1024;
// How long a connection being closed gets to take its close frame before it is cut (lws's
// timeouts are in seconds: its _us variant is not exported by Debian's build).
constexpr int kCloseGraceSeconds = 1;
// How long a connection the edge closed may stay in lws's close handshake (its close frame is
// written by then): what it still sends is read and dropped until it is cut.
constexpr auto kLinger = std::chrono::milliseconds(200);

// lws's own validity checks (ping after a silence, hang up later) are off: the edge pings.
const lws_retry_bo_t kNoValidityChecks = {};

WsServer* server_of(lws* wsi) {
  return static_cast<WsServer*>(lws_context_user(lws_get_context(wsi)));
}

// What lws keeps per connection (its per-session data): the connection, once established.
struct Slot {
  WsConnection* connection;
};

std::string with_headroom(std::string_view text) {
  std::string out(LWS_PRE, ' ');
  out.append(text);
  return out;
}

std::string peer_address(lws* wsi) {
  char name[64] = {0};
  if (lws_get_peer_simple(wsi, name, sizeof name) == nullptr) return "unknown";
  return name;
}

}  // namespace

// One WebSocket client. The shared part (Outbox, pending requests, sessions) is reached from
// the core's threads through Endpoint; everything else is the service thread's.
class WsConnection final : public Endpoint, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(WsServer& server, lws* wsi, std::string ip, Clock::time_point now)
      : server_(server),
        edge_(server.edge()),
        outbox_(edge_.outbox_limits(), &edge_.metrics().queued_bytes()),
        wsi_(wsi),
        ip_(std::move(ip)),
        assembler_(edge_.config().max_message_bytes),
        rate_(make_rate_guard(edge_.config(), now)) {
    if (edge_.config().ping_interval_s > 0) {
      next_ping_ = now + std::chrono::seconds(edge_.config().ping_interval_s);
    }
  }

  // --- Endpoint: the core's threads --------------------------------------------------------
  void deliver(std::uint64_t request_id, JsonPtr message) override {
    if (message == nullptr) return;
    if (request_id != 0) {
      std::optional<Pending> pending;
      {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(request_id);
        if (it != pending_.end()) {
          pending.emplace(std::move(it->second));
          pending_.erase(it);
        }
      }
      if (pending) edge_.answered(Transport::kWebSocket, *pending, message.get());
    } else if (!gone_.load(std::memory_order_acquire)) {
      edge_.event(message.get());
    }
    // Answers of a client that left are still counted (above), then dropped.
    if (gone_.load(std::memory_order_acquire)) return;
    std::string text = serialize(message.get(), LWS_PRE);
    message.reset();
    queue(std::move(text));
  }

  void session_created(janus_transport_session* /*session*/, std::uint64_t session_id) override {
    std::lock_guard lock(mutex_);
    if (std::find(sessions_.begin(), sessions_.end(), session_id) == sessions_.end()) {
      sessions_.push_back(session_id);
    }
  }

  void session_over(std::uint64_t session_id) override {
    {
      std::lock_guard lock(mutex_);
      std::erase(sessions_, session_id);
    }
    edge_.session_gone(session_id);
  }

  // --- the service thread --------------------------------------------------------------------
  void opened(janus_transport_session* session) {
    ts_ = session;
    {
      std::lock_guard lock(mutex_);
      ending_ = session;
    }
    JsonPtr event = adopt(json_object());
    set_unchecked(event.get(), "event", "connected");
    set_unchecked(event.get(), "admin_api", false);
    set(event.get(), "ip", ip_);
    edge_.core().notify(ts_, event.release());
  }

  int receive(const void* in, std::size_t len) {
    if (closing_) return 0;
    edge_.metrics().received(Transport::kWebSocket, len);
    const std::string_view piece(static_cast<const char*>(in), len);
    switch (assembler_.add(piece, lws_remaining_packet_payload(wsi_),
                           lws_is_final_fragment(wsi_) != 0)) {
      case MessageAssembler::Result::kMore:
        return 0;
      case MessageAssembler::Result::kTooBig: {
        edge_.metrics().refused(Refusal::kMessageTooBig);
        edge_.metrics().request(Transport::kWebSocket, Verb::kOther, Result::kRefused);
        return close_in_callback(Disconnect::kMessageTooBig, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                                 "message too big");
      }
      case MessageAssembler::Result::kComplete:
        break;
    }
    return request(assembler_.message());
  }

  int writeable() {
    if (closing_) return close_frame_due_ ? -1 : 0;  // -1: lws sends our close frame
    if (close_asked_.load(std::memory_order_acquire)) {
      return close_in_callback(Disconnect::kSlowConsumer, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                               "slow consumer");
    }
    if (ping_due_) {
      // A payload, which the pong echoes: lws does not report a pong without one.
      unsigned char ping[LWS_PRE + 4] = {};
      std::memcpy(ping + LWS_PRE, "edge", 4);
      if (lws_write(wsi_, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0) return -1;
      ping_due_ = false;
      if (lws_partial_buffered(wsi_) != 0) {
        lws_callback_on_writable(wsi_);
        return 0;
      }
    }
    int frames = 0;
    std::size_t bytes = 0;
    while (frames < kFramesPerWrite && bytes < kBytesPerWrite) {
      if (!writing_) {
        if (!outbox_.pop(current_)) break;
        offset_ = 0;
        writing_ = true;
      }
      const std::size_t size = current_.text.size() - LWS_PRE;
      const std::size_t left = size - offset_;
      const std::size_t chunk = std::min(left, WsServer::kChunk);
      // The LWS_PRE bytes before each chunk are headroom (the first chunk's) or payload already
      // written (later chunks'): lws may put the frame header there.
      auto* data = reinterpret_cast<unsigned char*>(current_.text.data()) + LWS_PRE + offset_;
      const int flags = lws_write_ws_flags(LWS_WRITE_TEXT, offset_ == 0, chunk == left);
      if (lws_write(wsi_, data, chunk, static_cast<lws_write_protocol>(flags)) < 0) return -1;
      edge_.metrics().sent(Transport::kWebSocket, chunk);
      offset_ += chunk;
      bytes += chunk;
      if (offset_ == size) {
        writing_ = false;
        current_ = Outgoing{};
        ++frames;
      }
      if (lws_partial_buffered(wsi_) != 0) break;
    }
    if (writing_ || outbox_.size() != 0) lws_callback_on_writable(wsi_);
    return 0;
  }

  void pong() {
    awaiting_pong_ = false;
    if (edge_.config().ping_interval_s > 0) {
      next_ping_ = Clock::now() + std::chrono::seconds(edge_.config().ping_interval_s);
    }
  }

  // The periodic check: slow consumers, pings, pongs that never came.
  void tick(Clock::time_point now) {
    if (closing_) return;
    const auto timeout = std::chrono::milliseconds(edge_.config().send_timeout_ms);
    if ((writing_ && now - current_.queued >= timeout) || outbox_.expired(now)) {
      close_outside(Disconnect::kSlowConsumer, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow consumer");
      return;
    }
    if (edge_.config().ping_interval_s == 0) return;
    if (awaiting_pong_) {
      if (now >= pong_deadline_) {
        close_outside(Disconnect::kPongTimeout, LWS_CLOSE_STATUS_POLICY_VIOLATION, "pong timeout");
      }
      return;
    }
    if (now >= next_ping_) {
      awaiting_pong_ = true;
      ping_due_ = true;
      pong_deadline_ = now + std::chrono::seconds(edge_.config().pong_timeout_s);
      lws_callback_on_writable(wsi_);
    }
  }

  // After a wake-up: write, or close if a core thread found a slow consumer. A socket that can
  // take more (nothing of ours or of lws's waiting, the send buffer not full) is written at
  // once, as the writeable callback would: asking lws for it costs the loop two changes of the
  // socket's epoll interest and a pass for each reply. A choked one waits for writeable.
  void woken() {
    if (closing_) return;
    if (close_asked_.load(std::memory_order_acquire)) {
      close_outside(Disconnect::kSlowConsumer, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow consumer");
      return;
    }
    if (!writing_ && !ping_due_ && lws_partial_buffered(wsi_) == 0 &&
        lws_send_pipe_choked(wsi_) == 0) {
      if (writeable() < 0) lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      return;
    }
    lws_callback_on_writable(wsi_);
  }

  // lws closed the connection (the client left, or we closed it): the core's sessions go.
  void finish() {
    gone_.store(true, std::memory_order_release);
    outbox_.close();
    std::vector<std::uint64_t> sessions;
    {
      // Pending requests stay: the core answers each (counted, then dropped), which frees it.
      std::lock_guard lock(mutex_);
      sessions.swap(sessions_);
    }
    // The candidate counts go; held requests stay until their handle settles (the core's
    // sessions end after them, end_sessions).
    for (const std::uint64_t session : sessions) edge_.candidates().session_gone(session);
    if (counted_) edge_.connections().close(ip_);
    edge_.metrics().connection_closed(Transport::kWebSocket, reason_);
    bool end_now = true;
    {
      // Requests still held go first (the client's last hangup and detach, often): its
      // sessions end after them.
      std::lock_guard lock(mutex_);
      if (held_ != 0) {
        end_deferred_ = true;
        end_now = false;
      }
    }
    if (end_now) end_sessions();
    ts_ = nullptr;
    wsi_ = nullptr;
    current_ = Outgoing{};
  }

  // A held request, forwarded by the edge's hold thread.
  void forward_held(HeldRequest& held, Clock::time_point arrival) {
    forward(held.request, held.source.get(), arrival);
    bool end = false;
    {
      std::lock_guard lock(mutex_);
      end = --held_ == 0 && end_deferred_;
      if (end) end_deferred_ = false;
    }
    if (end) end_sessions();
  }

  Disconnect reason() const { return reason_; }
  bool armed_exchange(bool value) { return armed_.exchange(value, std::memory_order_acq_rel); }

 private:
  // Pushes one serialized message (with its LWS_PRE headroom); any thread.
  void queue(std::string text) {
    switch (outbox_.push(std::move(text), Clock::now())) {
      case Outbox::Push::kQueuedFirst:
        server_.wake(shared_from_this());
        break;
      case Outbox::Push::kOverflow:
        close_asked_.store(true, std::memory_order_release);
        server_.wake(shared_from_this());
        break;
      case Outbox::Push::kQueued:
      case Outbox::Push::kClosed:
        break;
    }
  }

  // An answer of the edge's own (service thread): queued behind what the core sent before.
  void reply(const std::string& text) {
    queue(with_headroom(text));
    if (!close_asked_.load(std::memory_order_acquire)) lws_callback_on_writable(wsi_);
  }

  // As Janus's WebSocket transport: the event handlers learn first (janus.eventhandler.media
  // ends the connection's sessions on it), then the core. Once, from finish() or after the last
  // held request.
  void end_sessions() {
    janus_transport_session* ts = nullptr;
    {
      std::lock_guard lock(mutex_);
      ts = std::exchange(ending_, nullptr);
    }
    if (ts == nullptr) return;
    JsonPtr event = adopt(json_object());
    set_unchecked(event.get(), "event", "disconnected");
    edge_.core().notify(ts, event.release());
    edge_.core().transport_gone(ts);
    edge_.core().destroy_session(ts);
  }

  void forward(ClientRequest& request, janus_transport_session* ts, Clock::time_point arrival) {
    const std::uint64_t id = edge_.next_request_id();
    {
      std::lock_guard lock(mutex_);
      pending_.emplace(id, edge_.pending_for(request, arrival));
    }
    edge_.forwarding(request);
    edge_.core().incoming_request(ts, id, request.json.release());
  }

  int request(std::string_view text) {
    const Clock::time_point now = Clock::now();
    auto parsed = parse_request(text);
    if (auto* error = std::get_if<RequestError>(&parsed)) {
      reply(edge_.invalid(Transport::kWebSocket, *error));
      return 0;
    }
    auto& request = std::get<ClientRequest>(parsed);
    switch (rate_.admit(now)) {
      case RateGuard::Verdict::kAdmit:
        break;
      case RateGuard::Verdict::kRefuse:
        reply(edge_.refuse(Transport::kWebSocket, request.verb, Refusal::kRateLimited,
                           kErrorTooManyRequests,
                           "too many requests: over max_requests_per_s = " +
                               std::to_string(edge_.config().max_requests_per_s),
                           request.transaction, request.session_id));
        return 0;
      case RateGuard::Verdict::kClose:
        edge_.refuse(Transport::kWebSocket, request.verb, Refusal::kRateLimited,
                     kErrorTooManyRequests, "", "", 0);
        return close_in_callback(Disconnect::kRateLimited, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                                 "rate limited");
    }
    if (std::optional<std::string> refusal = edge_.admit(Transport::kWebSocket, request)) {
      reply(*refusal);
      return 0;
    }
    if (edge_.may_hold(request)) {
      auto held = std::make_shared<HeldRequest>(edge_.core(), ts_, std::move(request));
      HoldQueue::Forward later = [self = shared_from_this(), held, now] {
        self->forward_held(*held, now);
      };
      {
        std::lock_guard lock(mutex_);
        ++held_;  // before: the hold thread may forward it at once
      }
      std::string refusal;
      const HoldQueue::Verdict verdict =
          edge_.hold(Transport::kWebSocket, held->request, now, later, refusal);
      if (verdict == HoldQueue::Verdict::kHeld) return 0;
      {
        std::lock_guard lock(mutex_);
        --held_;
      }
      if (verdict == HoldQueue::Verdict::kFull) {
        reply(refusal);
        return 0;
      }
      forward(held->request, ts_, now);
      return 0;
    }
    forward(request, ts_, now);
    return 0;
  }

  // Closing, from anywhere on the service thread: nothing more is read from the client (a
  // 200 MB message stops at the cap, a flood at the rate), the close frame goes in the next
  // writeable callback, and a connection that is never writeable again (a slow consumer's) is
  // cut after kCloseGraceSeconds instead. Returns 0: what the callback returns.
  int close_in_callback(Disconnect reason, lws_close_status code, const char* why) {
    close_outside(reason, code, why);
    return 0;
  }
  void close_outside(Disconnect reason, lws_close_status code, const char* why) {
    reason_ = reason;
    closing_ = true;
    close_frame_due_ = true;
    outbox_.close();
    lws_rx_flow_control(wsi_, 0);
    lws_close_reason(wsi_, code, reinterpret_cast<unsigned char*>(const_cast<char*>(why)),
                     std::strlen(why));
    lws_callback_on_writable(wsi_);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, kCloseGraceSeconds);
  }

 public:
  // A connection over max_connections / max_connections_per_ip: told so, then closed.
  void refuse() {
    edge_.metrics().refused(Refusal::kConnectionLimit);
    close_outside(Disconnect::kLimit, static_cast<lws_close_status>(1013),  // Try Again Later
                  "too many connections");
  }
  void counted(bool value) { counted_ = value; }

 private:
  WsServer& server_;
  Edge& edge_;
  Outbox outbox_;
  std::atomic<bool> gone_{false};
  std::atomic<bool> close_asked_{false};  // a core thread found it a slow consumer
  std::atomic<bool> armed_{false};        // in the server's wake list

  std::mutex mutex_;  // pending_, sessions_, held_, end_deferred_, ending_
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::vector<std::uint64_t> sessions_;
  std::size_t held_ = 0;                       // requests of ours the edge holds
  bool end_deferred_ = false;                  // the client left while some were held
  janus_transport_session* ending_ = nullptr;  // ours until end_sessions()

  // Service thread only.
  lws* wsi_;
  const std::string ip_;
  janus_transport_session* ts_ = nullptr;
  MessageAssembler assembler_;
  RateGuard rate_;
  Outgoing current_;
  std::size_t offset_ = 0;  // of current_'s payload, written
  bool writing_ = false;
  bool closing_ = false;
  bool close_frame_due_ = false;
  bool counted_ = false;  // in the ConnectionCounter
  bool ping_due_ = false;
  bool awaiting_pong_ = false;
  Clock::time_point next_ping_{Clock::time_point::max()};
  Clock::time_point pong_deadline_{};
  Disconnect reason_ = Disconnect::kClient;
};

struct WsServer::Tick {
  lws_sorted_usec_list_t sul{};
  WsServer* server = nullptr;
};

namespace {

int http_only_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in,
                       std::size_t /*len*/) noexcept {
  switch (reason) {
    case LWS_CALLBACK_WSI_DESTROY:
      // lws tells the vhost's first protocol (this one) that any wsi is freed.
      if (WsServer* server = wsi != nullptr ? server_of(wsi) : nullptr) server->destroyed(wsi);
      return 0;
    case LWS_CALLBACK_HTTP:
      // Only WebSocket upgrades are served here (Janus's HTTP API is the HTTP listener's).
      lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, nullptr);
      return -1;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return in == nullptr ? -1 : 0;  // no subprotocol asked for
    default:
      return 0;
  }
}

int janus_protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                            std::size_t len) noexcept {
  return guarded("websocket callback", -1, [&] {
    WsServer* server = wsi != nullptr ? server_of(wsi) : nullptr;
    if (server == nullptr) return 0;
    return server->callback(wsi, static_cast<int>(reason), user, in, len);
  });
}

// lws gives each connection a receive buffer of rx_buffer_size (4 KiB by default, what Janus's
// own transport keeps per client): 2 KiB holds a typical request whole, and longer messages
// are assembled from several pieces anyway (MessageAssembler), so an idle connection costs 2 KiB
// less. Writes are limited by tx_packet_size, not by it.
constexpr std::size_t kRxBuffer = 2048;

const lws_protocols kProtocols[] = {
    {"http-only", http_only_callback, 0, 0, 0, nullptr, 0},
    {kProtocol, janus_protocol_callback, sizeof(Slot), kRxBuffer, 0, nullptr, WsServer::kChunk},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

std::atomic<WsServer*> log_target{nullptr};

void lws_log(int level, const char* line) {
  if (WsServer* server = log_target.load(std::memory_order_acquire)) {
    server->library_message(level, line);
  }
}

}  // namespace

WsServer::WsServer(Edge& edge) : edge_(edge), tick_(std::make_unique<Tick>()) {
  tick_->server = this;
}

WsServer::~WsServer() {
  stop();
}

void WsServer::library_message(int level, const char* line) noexcept {
  std::string_view text(line != nullptr ? line : "");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (starting_.load()) {
    try {
      std::lock_guard lock(start_messages_mutex_);
      start_messages_.emplace_back(text);
      return;
    } catch (...) {
      // Out of memory: log it instead.
    }
  }
  if (level & LLL_ERR) {
    log_error("websocket: %.*s", static_cast<int>(text.size()), text.data());
  } else {
    log_warn("websocket: %.*s", static_cast<int>(text.size()), text.data());
  }
}

bool WsServer::start(std::string& error) {
  if (context_ != nullptr) {
    error = "already running";
    return false;
  }
  log_target.store(this, std::memory_order_release);
  lws_set_log_level(LLL_ERR | LLL_WARN, &lws_log);
  {
    std::lock_guard lock(start_messages_mutex_);
    start_messages_.clear();
  }
  starting_.store(true);
  lws_context_creation_info context_info{};
  context_info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  context_info.user = this;
  context_info.gid = -1;
  context_info.uid = -1;
  // Bounds the header buffers a burst of handshakes (devices reconnecting at once, or a flood)
  // holds at once; freed ones are reused by the next handshakes instead of leaving the heap
  // full of holes that stay resident behind the connections that remain.
  context_info.max_http_header_pool =
      static_cast<unsigned short>(edge_.config().max_pending_handshakes);
  // lws's own loop polls every connection's socket on each pass, so each event costs in
  // proportion to the connections open; on a libev loop of ours (epoll) it costs the same
  // whatever their number. The loop is foreign to lws so that it installs no signal watcher
  // (Janus owns SIGINT), and ours so that stop() can break it.
  loop_ = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | static_cast<unsigned>(EVFLAG_NOENV) |
                      static_cast<unsigned>(EVFLAG_NOSIGMASK));
  void* foreign_loops[1] = {loop_};
  if (loop_ != nullptr) {
    context_info.options |= LWS_SERVER_OPTION_LIBEV;
    context_info.foreign_loops = foreign_loops;
    context_ = lws_create_context(&context_info);
    if (context_ == nullptr) {
      ev_loop_destroy(loop_);
      loop_ = nullptr;
      std::lock_guard lock(start_messages_mutex_);
      start_messages_.clear();
    }
  }
  if (loop_ == nullptr) {
    log_warn(
        "websocket: libwebsockets' libev event loop is not available (Debian package "
        "libwebsockets-evlib-ev): serving on its poll() loop, whose cost per event grows "
        "with the number of connections");
    context_info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    context_info.foreign_loops = nullptr;
    context_ = lws_create_context(&context_info);
  }

  const EdgeConfig& config = edge_.config();
  if (context_ != nullptr) {
    lws_context_creation_info info{};
    info.port = config.ws.port;
    info.iface = config.ws.ip.c_str();
    info.protocols = kProtocols;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (config.ws.ip.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = config.handshake_timeout_s;
    info.timeout_secs_ah_idle = config.handshake_timeout_s;
    info.retry_and_idle_policy = &kNoValidityChecks;
    vhost_ = lws_create_vhost(context_, &info);
  }
  starting_.store(false);
  std::vector<std::string> messages;
  {
    std::lock_guard lock(start_messages_mutex_);
    messages.swap(start_messages_);
  }
  if (context_ == nullptr || vhost_ == nullptr) {
    error = "cannot listen on " + config.ws.ip + ":" + std::to_string(config.ws.port) +
            " (websocket): ";
    if (messages.empty()) error += "libwebsockets could not start";
    for (std::size_t i = 0; i < messages.size(); ++i) error += (i ? "; " : "") + messages[i];
    if (context_ != nullptr) lws_context_destroy(context_);
    context_ = nullptr;
    vhost_ = nullptr;
    destroy_loop();
    return false;
  }
  for (const auto& message : messages) log_warn("websocket: %s", message.c_str());
  port_ = static_cast<std::uint16_t>(lws_get_vhost_listen_port(vhost_));
  stopping_.store(false);
  try {
    thread_ = guarded_thread("edge websocket service", "jm-edge-ws", [this] { run(); });
  } catch (const std::system_error& e) {
    error = std::string("cannot start the websocket service thread: ") + e.what();
    lws_context_destroy(context_);
    context_ = nullptr;
    vhost_ = nullptr;
    destroy_loop();
    return false;
  }
  return true;
}

void WsServer::stop() noexcept {
  if (context_ == nullptr) return;
  stopping_.store(true);
  lws_cancel_service(context_);
  if (thread_.joinable()) thread_.join();
  // Closes what is left (LWS_CALLBACK_CLOSED for each, on this thread).
  lws_context_destroy(context_);
  context_ = nullptr;
  vhost_ = nullptr;
  destroy_loop();
  port_ = 0;
  {
    std::lock_guard lock(wake_mutex_);
    wakes_.clear();
  }
  connections_.clear();
  lingering_.clear();
  WsServer* self = this;
  log_target.compare_exchange_strong(self, nullptr);
}

void WsServer::run() noexcept {
  lws_sul_schedule(context_, 0, &tick_->sul, &WsServer::on_tick,
                   std::chrono::duration_cast<std::chrono::microseconds>(kServiceTick).count());
  while (!stopping_.load(std::memory_order_acquire)) {
    // Each pass behind the barrier: one failure is logged and the service goes on. On libev,
    // one pass runs until stop() breaks the loop (the callbacks have their own barriers).
    guarded_void("edge websocket service", [this] {
      if (loop_ != nullptr) {
        ev_run(loop_, 0);
      } else if (lws_service(context_, 0) < 0) {
        stopping_.store(true);
      }
    });
  }
  lws_sul_cancel(&tick_->sul);
}

void WsServer::destroy_loop() noexcept {
  if (loop_ == nullptr) return;
  ev_loop_destroy(loop_);
  loop_ = nullptr;
}

void WsServer::on_tick(lws_sorted_usec_list* sul) {
  auto* tick = reinterpret_cast<Tick*>(reinterpret_cast<char*>(sul) - offsetof(Tick, sul));
  guarded_void("edge websocket tick", [tick] { tick->server->tick(); });
  lws_sul_schedule(tick->server->context_, 0, &tick->sul, &WsServer::on_tick,
                   std::chrono::duration_cast<std::chrono::microseconds>(kServiceTick).count());
}

void WsServer::tick() {
  const Clock::time_point now = Clock::now();
  for (auto& [raw, connection] : connections_) connection->tick(now);
  for (auto it = lingering_.begin(); it != lingering_.end();) {
    if (now >= it->second) {
      lws_set_timeout(it->first, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      it = lingering_.erase(it);
    } else {
      ++it;
    }
  }
}

void WsServer::wake(const std::shared_ptr<WsConnection>& connection) {
  if (connection->armed_exchange(true)) return;  // in the list already
  {
    std::lock_guard lock(wake_mutex_);
    wakes_.push_back(connection);
  }
  lws_cancel_service(context_);
}

void WsServer::drain_wakes() {
  {
    std::lock_guard lock(wake_mutex_);
    draining_.swap(wakes_);  // both keep their capacity: no allocation per wake-up
  }
  for (const auto& connection : draining_) {
    connection->armed_exchange(false);
    if (connections_.contains(connection.get())) connection->woken();
  }
  draining_.clear();
}

void WsServer::established(lws* wsi, void* user) {
  auto* slot = static_cast<Slot*>(user);
  const Clock::time_point now = Clock::now();
  const std::string ip = peer_address(wsi);
  edge_.metrics().connection_opened(Transport::kWebSocket);
  auto connection = std::make_shared<WsConnection>(*this, wsi, ip, now);
  slot->connection = connection.get();
  WsConnection& opened = *connection;
  connections_.emplace(connection.get(), std::move(connection));
  open_.fetch_add(1, std::memory_order_relaxed);
  if (!edge_.connections().open(ip)) {
    opened.refuse();
    return;
  }
  opened.counted(true);
  auto* ref = new EndpointRef{connections_[&opened]};
  janus_transport_session* ts = edge_.core().create_session(ref, &EndpointRef::free);
  if (ts == nullptr) {
    delete ref;
    log_error("websocket: no transport session for a connection from %s: closed", ip.c_str());
    opened.refuse();
    return;
  }
  opened.opened(ts);
}

void WsServer::destroyed(lws* wsi) {
  lingering_.erase(wsi);
}

void WsServer::closed(lws* wsi, void* user) {
  auto* slot = static_cast<Slot*>(user);
  if (slot == nullptr || slot->connection == nullptr) return;
  auto it = connections_.find(slot->connection);
  slot->connection = nullptr;
  if (it == connections_.end()) return;
  std::shared_ptr<WsConnection> connection = std::move(it->second);
  connections_.erase(it);
  open_.fetch_sub(1, std::memory_order_relaxed);
  if (connection->reason() != Disconnect::kClient) {
    lingering_.emplace(wsi, Clock::now() + kLinger);
  }
  connection->finish();
}

int WsServer::callback(lws* wsi, int reason, void* user, void* in, std::size_t len) {
  auto* slot = static_cast<Slot*>(user);
  WsConnection* connection = slot != nullptr ? slot->connection : nullptr;
  switch (static_cast<lws_callback_reasons>(reason)) {
    case LWS_CALLBACK_ESTABLISHED:
      if (slot != nullptr) established(wsi, user);
      return 0;
    case LWS_CALLBACK_RECEIVE:
      return connection != nullptr ? connection->receive(in, len) : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
      if (connection != nullptr) connection->pong();
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return connection != nullptr ? connection->writeable() : 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      drain_wakes();
      if (loop_ != nullptr && stopping_.load(std::memory_order_acquire)) {
        ev_break(loop_, EVBREAK_ALL);
      }
      return 0;
    case LWS_CALLBACK_CLOSED:
      closed(wsi, user);
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      closed(wsi, user);
      destroyed(wsi);
      return 0;
    default:
      return 0;
  }
}

}  // namespace jmedia::edge
