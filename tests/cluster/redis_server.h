// A private redis-server for tests: a free loopback port, readiness polled (PING, bounded),
// stopped by its pid. restart() brings it back on the same port with no data (--save "").
#pragma once

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace jmedia::cluster::testing {

inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class RedisServer {
 public:
  explicit RedisServer(std::string password = "") : password_(std::move(password)) {
    port_ = free_loopback_port();
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  bool running() const { return pid_ > 0; }

  void start() {
    if (pid_ > 0) return;
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Gone with the test process, even one that aborts (a sanitizer's report).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (password_.empty()) {
        ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--loglevel", "warning", "--logfile",
                 "/dev/null", nullptr);
      } else {
        ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--loglevel", "warning", "--logfile",
                 "/dev/null", "--requirepass", password_.c_str(), nullptr);
      }
      ::_exit(127);
    }
    // Up to 10 s for PING to answer (PONG, or NOAUTH: it is up either way).
    for (int i = 0; i < 200; ++i) {
      if (ping()) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start (port " + port + " taken?)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop();
    throw std::runtime_error("redis-server did not answer PING within 10 s");
  }

  // SIGKILL: no goodbye to clients, as a crash.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // A direct client for checking what is stored: the reply of one command, as text ("(nil)"
  // for nil, the number for an integer), "" when redis cannot be reached.
  std::string query(std::initializer_list<std::string> args) const {
    timeval tv{1, 0};
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (context == nullptr || context->err != 0) {
      if (context != nullptr) redisFree(context);
      return "";
    }
    if (!password_.empty()) {
      freeReplyObject(redisCommand(context, "AUTH %s", password_.c_str()));
    }
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    std::string text;
    if (reply != nullptr) {
      if (reply->type == REDIS_REPLY_NIL) {
        text = "(nil)";
      } else if (reply->type == REDIS_REPLY_INTEGER) {
        text = std::to_string(reply->integer);
      } else if (reply->str != nullptr) {
        text = std::string(reply->str, reply->len);
      }
      freeReplyObject(reply);
    }
    redisFree(context);
    return text;
  }

 private:
  bool ping() const {
    timeval tv{0, 200000};
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (context == nullptr) return false;
    bool up = false;
    if (context->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      up = reply != nullptr;
      if (reply != nullptr) freeReplyObject(reply);
    }
    redisFree(context);
    return up;
  }

  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace jmedia::cluster::testing
