// A relay's UDP socket: bound on this node's advertise_host to the first free port of the
// relay range, non-blocking, with a larger receive buffer. RTP and RTCP share it (RFC 5761).
// Sending never blocks: a full send buffer drops the packet (counted), as a loss on the wire.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace jmedia::cluster {

// The largest datagram a relay sends or accepts: an RTP packet of Janus (at most 1500 bytes)
// plus SRTP's tag.
inline constexpr std::size_t kRelayMaxDatagram = 1600;

// errno's text, thread-safe (strerror is not).
std::string errno_text(int error);

struct RelayAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  bool valid() const { return length != 0; }
  int port() const;
  std::string text() const;  // "host:port" or "[v6]:port"
  bool operator==(const RelayAddress& other) const;
  // host: a numeric address or a name (resolved here: never on a media thread); port 0-65535.
  static bool resolve(const std::string& host, int port, RelayAddress& out, std::string& error);
};

struct RelaySocketOptions {
  std::string host;  // the local address to bind (advertise_host)
  // Tried in order; a port in use is skipped. 0-0: any free port (tests).
  int port_min = 0;
  int port_max = 0;
  int receive_buffer_bytes = 1 << 20;
  // TEST ONLY (cluster.test_relay_drop_percent): drops this percentage of the datagrams sent,
  // chosen by a PRNG seeded with test_drop_seed, as loss on the wire would. 0 in production.
  unsigned test_drop_percent = 0;
  std::uint64_t test_drop_seed = 1;
};

class RelaySocket {
 public:
  // null with error set (every port of the range in use, a bad host, ...).
  static std::unique_ptr<RelaySocket> open(const RelaySocketOptions& options, std::string& error);
  ~RelaySocket();
  RelaySocket(const RelaySocket&) = delete;
  RelaySocket& operator=(const RelaySocket&) = delete;

  int fd() const { return fd_; }
  const RelayAddress& local() const { return local_; }

  // Any thread, never blocks, no allocation. false when the kernel refused it (buffer full,
  // no route); a test drop counts as sent (true).
  bool send_to(const std::uint8_t* data, std::size_t len, const RelayAddress& to) noexcept;
  // One datagram into buffer: its length, 0 when none is waiting, -1 on an error; truncated
  // is set when it was longer than cap (its tail is lost).
  long receive(std::uint8_t* buffer, std::size_t cap, RelayAddress& from,
               bool& truncated) const noexcept;

  std::uint64_t test_dropped() const { return test_dropped_.load(std::memory_order_relaxed); }
  std::uint64_t send_errors() const { return send_errors_.load(std::memory_order_relaxed); }

 private:
  RelaySocket(int fd, RelayAddress local, const RelaySocketOptions& options);
  bool test_drop() noexcept;

  const int fd_;
  const RelayAddress local_;
  const unsigned drop_percent_;
  const std::uint64_t drop_seed_;
  std::atomic<std::uint64_t> drop_counter_{0};
  std::atomic<std::uint64_t> test_dropped_{0};
  std::atomic<std::uint64_t> send_errors_{0};
};

}  // namespace jmedia::cluster
