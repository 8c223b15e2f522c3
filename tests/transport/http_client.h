// A minimal blocking HTTP/1.1 client for the transport tests: one request per connection
// (Connection: close), every wait bounded by a timeout. Enough to see status, headers and the
// exact body bytes (HEAD included), which a higher-level client would hide.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace jmedia::testing {

struct HttpReply {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;                                 // as received (no transfer decoding)

  // The first value of header name (lower-case), or "" when absent.
  std::string header(const std::string& name) const;
};

// Sends "<method> <path> HTTP/1.1" to 127.0.0.1:port with the extra header lines given
// (e.g. "Authorization: Bearer x") and reads the reply until the server closes. nullopt (with
// the reason in error) on a connection failure, a timeout or an unparsable reply.
std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method,
                                      const std::string& path,
                                      const std::vector<std::string>& headers, std::string& error,
                                      int timeout_ms = 5000, const std::string& body = "");

// The value of the sample line that starts with `series ` in a text exposition, or -1.
double sample_value(const std::string& exposition, const std::string& series);

}  // namespace jmedia::testing
