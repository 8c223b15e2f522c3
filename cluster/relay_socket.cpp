#include "relay_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace jmedia::cluster {
namespace {

// splitmix64: the n-th draw is a pure function of the seed and n, so concurrent senders need
// only an atomic counter.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string errno_text(int error) {
  return std::system_category().message(error);
}

int RelayAddress::port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string RelayAddress::text() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host,
              sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host,
              sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
  return "(none)";
}

bool RelayAddress::operator==(const RelayAddress& other) const {
  if (length != other.length || storage.ss_family != other.storage.ss_family) return false;
  if (storage.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
    const auto* b = reinterpret_cast<const sockaddr_in*>(&other.storage);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (storage.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(&other.storage);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
  }
  return length == 0;
}

bool RelayAddress::resolve(const std::string& host, int port, RelayAddress& out,
                           std::string& error) {
  if (host.empty() || port < 0 || port > 65535) {
    error = "bad relay address '" + host + "' port " + std::to_string(port);
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int status = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (status != 0 || found == nullptr) {
    error = "cannot resolve relay host '" + host + "': " + gai_strerror(status);
    return false;
  }
  RelayAddress address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  freeaddrinfo(found);
  out = address;
  return true;
}

std::unique_ptr<RelaySocket> RelaySocket::open(const RelaySocketOptions& options,
                                               std::string& error) {
  if (options.port_min < 0 || options.port_max > 65535 || options.port_min > options.port_max) {
    error = "bad relay port range " + std::to_string(options.port_min) + "-" +
            std::to_string(options.port_max);
    return nullptr;
  }
  if (options.test_drop_percent > 100) {
    error = "test_drop_percent must be 0-100";
    return nullptr;
  }
  RelayAddress address;
  if (!RelayAddress::resolve(options.host, 0, address, error)) return nullptr;
  const int fd = socket(address.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "relay socket: " + errno_text(errno);
    return nullptr;
  }
  // The kernel caps it at net.core.rmem_max; what it grants is enough for a best effort.
  const int rcvbuf = options.receive_buffer_bytes;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int last_errno = 0;
  bool bound = false;
  for (int port = options.port_min; port <= options.port_max && !bound; ++port) {
    if (address.storage.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0) {
      bound = true;
    } else {
      last_errno = errno;
      if (last_errno != EADDRINUSE) break;
    }
  }
  if (!bound) {
    close(fd);
    error = "relay socket: cannot bind " + options.host + " in " +
            std::to_string(options.port_min) + "-" + std::to_string(options.port_max) + ": " +
            errno_text(last_errno);
    return nullptr;
  }
  RelayAddress local;
  local.length = sizeof local.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length) != 0) {
    error = "relay socket: getsockname: " + errno_text(errno);
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<RelaySocket>(new RelaySocket(fd, local, options));
}

RelaySocket::RelaySocket(int fd, RelayAddress local, const RelaySocketOptions& options)
    : fd_(fd),
      local_(local),
      drop_percent_(options.test_drop_percent),
      drop_seed_(options.test_drop_seed) {}

RelaySocket::~RelaySocket() {
  close(fd_);
}

bool RelaySocket::test_drop() noexcept {
  if (drop_percent_ == 0) return false;
  const std::uint64_t n = drop_counter_.fetch_add(1, std::memory_order_relaxed);
  if (mix(drop_seed_ ^ mix(n)) % 100 >= drop_percent_) return false;
  test_dropped_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool RelaySocket::send_to(const std::uint8_t* data, std::size_t len,
                          const RelayAddress& to) noexcept {
  if (!to.valid()) return false;
  if (test_drop()) return true;
  for (;;) {
    const ssize_t sent = sendto(fd_, data, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&to.storage), to.length);
    if (sent >= 0) return true;
    if (errno == EINTR) continue;
    send_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

long RelaySocket::receive(std::uint8_t* buffer, std::size_t cap, RelayAddress& from,
                          bool& truncated) const noexcept {
  for (;;) {
    from.length = sizeof from.storage;
    const ssize_t got = recvfrom(fd_, buffer, cap, MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from.storage), &from.length);
    if (got >= 0) {
      truncated = static_cast<std::size_t>(got) > cap;
      return static_cast<long>(truncated ? cap : static_cast<std::size_t>(got));
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    // ECONNREFUSED and the like: an ICMP error from an earlier send; nothing to read.
    return errno == ECONNREFUSED ? 0 : -1;
  }
}

}  // namespace jmedia::cluster
