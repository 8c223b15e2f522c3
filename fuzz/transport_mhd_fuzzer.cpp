// janus.transport.prometheus's HTTP handling through libmicrohttpd, as janus runs it: an
// HttpServer started once on 127.0.0.1 (port 0, two pool threads, the session REST API
// mounted over transport_rig.h's view), and each input sent as it is, as one raw request,
// over a new loopback TCP connection (e.g. "GET /metrics HTTP/1.1\r\n..."; the seeds are
// transport_http's). libmicrohttpd is not instrumented, so coverage feedback comes from our
// side of it (the URI callback, on_request with its body reading, the response queueing,
// HttpServer::handle, the API); ASan and UBSan watch the server threads too.
//
// Bounded: a request that has its blank line gets 30 ms to start being answered (then it is
// read until the server closes, 5 s at most); one that has none gets no wait, because
// libmicrohttpd waits for the rest until its connection timeout (and does so even after the
// client shut its side down). The connection is then reset. Any bytes the server
// sends must start with an HTTP/1.x status line, and every 64 inputs (and after any input
// the server did not answer) a well-formed scrape must still get its 200: the server
// survives everything, without leaking connection slots.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transport_rig.h"

namespace {

using jmedia::fuzz::fail;

jmedia::fuzz::Rig* rig = nullptr;
// How long a request with its blank line may take to be answered. A request the server does
// not answer by then is one it waits on (a body, a continuation): it costs this much per run.
constexpr int kAnswerWaitMs = 30;

struct Exchange {
  bool answered = false;
  std::string reply;
};

// One connection: sends request; if wait_ms > 0, waits that long for the first bytes of an
// answer and then reads until the server closes (bounded). Always ends with a reset.
Exchange exchange(std::string_view request, int wait_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0, "socket(): %d", errno);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(rig->server.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    close(fd);
    fail("cannot connect to the server on 127.0.0.1:%u (errno %d)", rig->server.port(), error);
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on a bad request
    sent += static_cast<std::size_t>(n);
  }
  Exchange result;
  pollfd readable{fd, POLLIN, 0};
  if (wait_ms > 0 && poll(&readable, 1, wait_ms) == 1) {
    shutdown(fd, SHUT_WR);
    char buffer[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (int reads = 0; reads < 4096 && std::chrono::steady_clock::now() < deadline; ++reads) {
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      result.reply.append(buffer, static_cast<std::size_t>(n));
    }
    result.answered = !result.reply.empty();
  }
  linger reset{1, 0};  // RST: no TIME_WAIT pile-up over millions of runs
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
  return result;
}

void check_alive() {
  const Exchange probe = exchange(
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer s3cret\r\n"
      "Connection: close\r\n\r\n",
      5000);
  FUZZ_CHECK(probe.reply.rfind("HTTP/1.1 200 ", 0) == 0 &&
                 probe.reply.find("fuzz_requests_total") != std::string::npos,
             "the server no longer answers a good scrape: '%.60s'", probe.reply.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  rig = new jmedia::fuzz::Rig();  // lives as long as the process: one server for every input
  rig->start();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::size_t runs = 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  rig->host.ready = size % 3 != 0;
  const bool complete = input.find("\r\n\r\n") != std::string_view::npos ||
                        input.find("\n\n") != std::string_view::npos;
  const Exchange result = exchange(input, complete ? kAnswerWaitMs : 0);
  if (result.answered) {
    FUZZ_CHECK(result.reply.rfind("HTTP/1.", 0) == 0, "not an HTTP reply: '%.60s'",
               result.reply.c_str());
  }
  if (++runs % 64 == 0 || (complete && !result.answered)) check_alive();
  return 0;
}
