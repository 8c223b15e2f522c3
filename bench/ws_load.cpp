// ws_load: a closed-loop load generator for the Janus API over WebSocket, the counterpart of
// wrk for scripts/benchmark's "edge" part (wrk speaks only HTTP). One thread, epoll, many
// connections; each connection keeps one request in flight and measures send-to-reply time.
// Client frames are masked (RFC 6455 requires it), pings are answered, a close or an error
// reply is counted and fails the run.
//
//   ws_load --port P [--host 127.0.0.1] [--connections N] [--seconds S]
//           [--request JSON] [--expect TEXT] [--attach PLUGIN]
//   ws_load --port P --idle N [--idle-request JSON]
//                                 (N connections, handshake done and, with --idle-request,
//                                 that request answered with "success" on each; held until
//                                 stdin closes)
//
// --request is a template: $T becomes the transaction, $S the connection's Janus session and
// $H its handle (with --attach: each connection creates a session and attaches PLUGIN first).
// A reply is the message that carries the request's transaction; it must contain --expect
// (default "\"janus\"") and no "\"error\"".
// Prints one line: JMEDIA_WS {"requests":...,"errors":...,"duration_us":...,"p50_us":...,
// "p90_us":...,"p99_us":...,"max_us":...,"cpu_s":...} (or, idle: JMEDIA_WS_READY N, then
// JMEDIA_WS {"connections":N,"closed":C}).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 1;
  double seconds = 5;
  std::string request = R"({"janus":"ping","transaction":"$T"})";
  std::string expect = "\"janus\"";
  std::string attach;
  int idle = 0;
  std::string idle_request;
};

// One thread: strerror and exit are safe here.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "ws_load: %s (errno %d: %s)\n", what, errno,
               std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  std::exit(2);                        // NOLINT(concurrency-mt-unsafe)
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "ws_load: %s\n", why);
  std::exit(2);  // NOLINT(concurrency-mt-unsafe)
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("every option takes a value");
    const char* value = argv[++i];
    if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      o.port = std::atoi(value);
    } else if (arg == "--connections") {
      o.connections = std::atoi(value);
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value);
    } else if (arg == "--request") {
      o.request = value;
    } else if (arg == "--expect") {
      o.expect = value;
    } else if (arg == "--attach") {
      o.attach = value;
    } else if (arg == "--idle") {
      o.idle = std::atoi(value);
    } else if (arg == "--idle-request") {
      o.idle_request = value;
    } else {
      usage("unknown option");
    }
  }
  if (o.port <= 0 || o.port > 65535) usage("--port 1-65535 is required");
  if (o.connections < 1 || o.idle < 0 || o.seconds <= 0)
    usage("bad --connections/--idle/--seconds");
  return o;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

// The number after "key": in a reply (the session or handle id of create / attach).
std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
  const std::size_t at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + key.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '\n')) ++i;
  std::uint64_t value = 0;
  bool any = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, any = true) {
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
  }
  if (!any) return std::nullopt;
  return value;
}

enum class Phase { kHandshake, kIdleRequest, kCreate, kAttach, kRun, kClosed };

struct Connection {
  int fd = -1;
  int index = 0;
  Phase phase = Phase::kHandshake;
  std::string in;       // bytes read, not yet a whole frame
  std::string out;      // bytes to write
  std::string message;  // a fragmented message being assembled
  std::string transaction;
  std::uint64_t sequence = 0;
  std::uint64_t session = 0;
  std::uint64_t handle = 0;
  Clock::time_point sent;
  bool want_write = false;
};

class Load {
 public:
  explicit Load(Options options) : o_(std::move(options)) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) die("epoll_create1");
  }

  int run() {
    const int count = o_.idle > 0 ? o_.idle : o_.connections;
    raise_fd_limit(count);
    connections_.resize(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) open(connections_[static_cast<std::size_t>(i)], i);
    return o_.idle > 0 ? hold_idle() : measure();
  }

 private:
  static void raise_fd_limit(int count) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit");
    const rlim_t want = static_cast<rlim_t>(count) + 64;
    if (limit.rlim_cur < want) {
      limit.rlim_cur = std::min(want, limit.rlim_max);
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) die("setrlimit");
    }
  }

  void open(Connection& c, int index) const {
    c.index = index;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) die("socket");
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(o_.port));
    if (inet_pton(AF_INET, o_.host.c_str(), &address.sin_addr) != 1) usage("--host: IPv4 only");
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      die("connect");
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT;
    event.data.ptr = &c;
    c.want_write = true;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &event) != 0) die("epoll_ctl");
    c.out = "GET / HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: janus-protocol\r\n\r\n";
  }

  // A masked client frame (opcode: 1 text, 8 close, 10 pong).
  void queue_frame(Connection& c, std::uint8_t opcode, std::string_view payload) {
    std::string& out = c.out;
    out.push_back(static_cast<char>(0x80 | opcode));
    const std::size_t n = payload.size();
    if (n < 126) {
      out.push_back(static_cast<char>(0x80 | n));
    } else if (n < 65536) {
      out.push_back(static_cast<char>(0x80 | 126));
      out.push_back(static_cast<char>(n >> 8));
      out.push_back(static_cast<char>(n & 0xff));
    } else {
      out.push_back(static_cast<char>(0x80 | 127));
      for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
    }
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    char mask[4];
    std::memcpy(mask, &rng_, 4);
    out.append(mask, 4);
    const std::size_t start = out.size();
    out.append(payload);
    for (std::size_t i = 0; i < n; ++i) out[start + i] ^= mask[i & 3];
    flush(c);
  }

  void send_request(Connection& c, std::string_view template_text) {
    c.transaction = "b" + std::to_string(c.index) + "." + std::to_string(++c.sequence);
    std::string text = replace_all(std::string(template_text), "$T", c.transaction);
    text = replace_all(std::move(text), "$S", std::to_string(c.session));
    text = replace_all(std::move(text), "$H", std::to_string(c.handle));
    c.sent = Clock::now();
    queue_frame(c, 1, text);
  }

  void flush(Connection& c) {
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.erase(0, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)) break;
      close(c, "send failed");
      return;
    }
    const bool want = !c.out.empty();
    if (want != c.want_write && c.phase != Phase::kClosed) {
      epoll_event event{};
      event.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      event.data.ptr = &c;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event);
      c.want_write = want;
    }
  }

  void close(Connection& c, const char* why) {
    if (c.phase == Phase::kClosed) return;
    if (measuring_ && closed_ < 5)
      std::fprintf(stderr, "ws_load: connection %d: %s\n", c.index, why);
    c.phase = Phase::kClosed;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    ++closed_;
  }

  void readable(Connection& c) {
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.in.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      close(c, n == 0 ? "closed by the server" : "recv failed");
      return;
    }
    if (c.phase == Phase::kHandshake) {
      const std::size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
        close(c, "handshake refused");
        return;
      }
      c.in.erase(0, end + 4);
      handshaken(c);
    }
    frames(c);
  }

  void handshaken(Connection& c) {
    ++ready_;
    if (o_.idle > 0 && !o_.idle_request.empty()) {
      c.phase = Phase::kIdleRequest;
      send_request(c, o_.idle_request);
    } else if (o_.idle > 0) {
      c.phase = Phase::kRun;
    } else if (!o_.attach.empty()) {
      c.phase = Phase::kCreate;
      send_request(c, R"({"janus":"create","transaction":"$T"})");
    } else {
      c.phase = Phase::kRun;
      if (measuring_) send_request(c, o_.request);
    }
  }

  void frames(Connection& c) {
    std::size_t at = 0;
    while (c.phase != Phase::kClosed) {
      const std::string_view in(c.in.data() + at, c.in.size() - at);
      if (in.size() < 2) break;
      const auto b0 = static_cast<std::uint8_t>(in[0]);
      const auto b1 = static_cast<std::uint8_t>(in[1]);
      std::size_t header = 2;
      std::uint64_t length = b1 & 0x7f;
      if (length == 126) {
        if (in.size() < 4) break;
        length = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(in[2])) << 8) |
                 static_cast<std::uint8_t>(in[3]);
        header = 4;
      } else if (length == 127) {
        if (in.size() < 10) break;
        length = 0;
        for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<std::uint8_t>(in[i]);
        header = 10;
      }
      if ((b1 & 0x80) != 0) {
        close(c, "the server masked a frame");
        break;
      }
      if (in.size() < header + length) break;
      const std::string_view payload = in.substr(header, length);
      at += header + length;
      const std::uint8_t opcode = b0 & 0x0f;
      const bool fin = (b0 & 0x80) != 0;
      if (opcode == 0x9) {
        queue_frame(c, 0xA, payload);
      } else if (opcode == 0x8) {
        close(c, "close frame from the server");
      } else if (opcode == 0x1 || opcode == 0x0) {
        if (fin && c.message.empty()) {
          message(c, payload);
        } else {
          c.message.append(payload);
          if (fin) {
            const std::string whole = std::move(c.message);
            c.message.clear();
            message(c, whole);
          }
        }
      }
    }
    if (at > 0 && c.phase != Phase::kClosed) c.in.erase(0, at);
  }

  void message(Connection& c, std::string_view text) {
    if (c.transaction.empty() || text.find(c.transaction) == std::string_view::npos) return;
    // The reply to the request in flight (its transaction is unique to this connection).
    c.transaction.clear();
    if (c.phase == Phase::kIdleRequest) {
      if (text.find("\"success\"") == std::string_view::npos) {
        close(c, "the idle request was refused");
        ++errors_;
        return;
      }
      c.phase = Phase::kRun;
      return;
    }
    if (c.phase == Phase::kCreate || c.phase == Phase::kAttach) {
      const std::optional<std::uint64_t> id = number_after(text, "\"id\"");
      if (!id || text.find("\"success\"") == std::string_view::npos) {
        close(c, "create/attach refused");
        ++errors_;
        return;
      }
      if (c.phase == Phase::kCreate) {
        c.session = *id;
        c.phase = Phase::kAttach;
        send_request(c, R"({"janus":"attach","transaction":"$T","session_id":$S,"plugin":")" +
                            o_.attach + "\"}");
      } else {
        c.handle = *id;
        c.phase = Phase::kRun;
        if (measuring_) send_request(c, o_.request);
      }
      return;
    }
    if (!measuring_) return;
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.sent);
    if (text.find(o_.expect) == std::string_view::npos ||
        text.find("\"error\"") != std::string_view::npos) {
      if (errors_ < 3) {
        std::fprintf(stderr, "ws_load: unexpected reply: %.*s\n",
                     static_cast<int>(std::min<std::size_t>(text.size(), 400)), text.data());
      }
      ++errors_;
    } else {
      latencies_.push_back(static_cast<std::uint32_t>(micros.count()));
    }
    if (Clock::now() < end_) send_request(c, o_.request);
  }

  // Serves events until the deadline or until nothing is in flight; false on a timeout.
  bool pump(Clock::time_point deadline, bool (Load::*done)() const) {
    epoll_event events[256];
    while (!(this->*done)()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      const int n =
          epoll_wait(epoll_, events, 256, static_cast<int>(std::min<long>(left.count(), 100)));
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Connection*>(events[i].data.ptr);
        if (c->phase == Phase::kClosed) continue;
        if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0 && (events[i].events & EPOLLIN) == 0) {
          close(*c, "socket error");
          continue;
        }
        if ((events[i].events & EPOLLOUT) != 0) flush(*c);
        if ((events[i].events & EPOLLIN) != 0 && c->phase != Phase::kClosed) readable(*c);
      }
    }
    return true;
  }

  bool all_ready() const {
    return std::ranges::all_of(connections_, [](const Connection& c) {
      return c.phase == Phase::kRun || c.phase == Phase::kClosed;
    });
  }
  bool none_in_flight() const {
    return std::ranges::all_of(connections_, [](const Connection& c) {
      return c.phase != Phase::kRun || c.transaction.empty();
    });
  }

  int measure() {
    if (!pump(Clock::now() + std::chrono::seconds(30), &Load::all_ready) || closed_ != 0) {
      std::fprintf(stderr, "ws_load: %d of %zu connections ready, %d closed\n", ready_,
                   connections_.size(), closed_);
      return 1;
    }
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    latencies_.reserve(1 << 20);
    measuring_ = true;
    const Clock::time_point start = Clock::now();
    end_ = start + std::chrono::microseconds(static_cast<std::int64_t>(o_.seconds * 1e6));
    for (Connection& c : connections_) send_request(c, o_.request);
    pump(end_, &Load::never);
    // What is still in flight at the deadline is waited for (up to 10 s) and counted.
    const bool drained = pump(end_ + std::chrono::seconds(10), &Load::none_in_flight);
    const auto duration =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    const auto cpu = [](const rusage& r) {
      return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
             static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    };
    std::vector<std::uint32_t>& v = latencies_;
    std::sort(v.begin(), v.end());
    const auto pct = [&v](double p) -> std::uint32_t {
      if (v.empty()) return 0;
      const auto i =
          static_cast<std::size_t>(std::lround(p / 100.0 * static_cast<double>(v.size() - 1)));
      return v[std::min(i, v.size() - 1)];
    };
    std::printf(
        "JMEDIA_WS {\"requests\":%zu,\"errors\":%d,\"closed\":%d,\"drained\":%s,"
        "\"duration_us\":%" PRId64
        ",\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,"
        "\"max_us\":%u,\"cpu_s\":%.3f}\n",
        v.size(), errors_, closed_, drained ? "true" : "false", static_cast<std::int64_t>(duration),
        pct(50), pct(90), pct(99), v.empty() ? 0u : v.back(), cpu(after) - cpu(before));
    return errors_ == 0 && closed_ == 0 && drained ? 0 : 1;
  }
  bool never() const { return false; }  // NOLINT(readability-convert-member-functions-to-static)

  int hold_idle() {
    if (!pump(Clock::now() + std::chrono::seconds(60), &Load::all_ready) || closed_ != 0) {
      std::fprintf(stderr, "ws_load: %d of %zu idle connections ready, %d closed\n", ready_,
                   connections_.size(), closed_);
      return 1;
    }
    std::printf("JMEDIA_WS_READY %d\n", ready_);
    std::fflush(stdout);
    // Held, answering pings, until stdin closes (the driver has measured).
    Connection input;
    input.fd = STDIN_FILENO;
    input.phase = Phase::kRun;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &input;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, STDIN_FILENO, &event) != 0) die("epoll_ctl stdin");
    epoll_event events[256];
    const Clock::time_point deadline = Clock::now() + std::chrono::minutes(10);
    while (!stdin_closed_ && Clock::now() < deadline) {
      const int n = epoll_wait(epoll_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Connection*>(events[i].data.ptr);
        if (c == &input) {
          char sink[256];
          if (::read(STDIN_FILENO, sink, sizeof sink) <= 0) stdin_closed_ = true;
          continue;
        }
        if (c->phase == Phase::kClosed) continue;
        if ((events[i].events & EPOLLOUT) != 0) flush(*c);
        if ((events[i].events & EPOLLIN) != 0 && c->phase != Phase::kClosed) readable(*c);
      }
    }
    std::printf("JMEDIA_WS {\"connections\":%d,\"closed\":%d}\n", ready_, closed_);
    return closed_ == 0 ? 0 : 1;
  }

  Options o_;
  int epoll_ = -1;
  std::vector<Connection> connections_;
  std::vector<std::uint32_t> latencies_;
  Clock::time_point end_;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ull;
  bool measuring_ = false;
  bool stdin_closed_ = false;
  int ready_ = 0;
  int closed_ = 0;
  int errors_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    return Load(parse(argc, argv)).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ws_load: %s\n", e.what());
    return 2;
  }
}
