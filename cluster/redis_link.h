// One blocking hiredis connection with a timeout on every call, for the directory's own thread
// (never a Janus thread). A call that fails (refused, reset, timed out, a protocol error) breaks
// the link: the caller drops it and connects again.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster_config.h"

struct redisContext;
struct redisReply;

namespace jmedia::cluster {

struct ReplyFree {
  void operator()(redisReply* reply) const noexcept;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// Reads of a reply (null-safe).
bool is_nil(const redisReply* reply);
bool is_error(const redisReply* reply);
std::optional<std::string> string_of(const redisReply* reply);  // STRING or STATUS
std::optional<long long> integer_of(const redisReply* reply);
std::size_t elements_of(const redisReply* reply);  // ARRAY size, 0 otherwise
const redisReply* element(const redisReply* reply, std::size_t i);

class RedisLink {
 public:
  using Args = std::vector<std::string>;

  // Connects, and AUTHs when password is non-empty. Null with why set on failure.
  static std::unique_ptr<RedisLink> connect(const Endpoint& endpoint, const std::string& password,
                                            std::chrono::milliseconds timeout, std::string& why);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // One command; null when the link broke (why() says how). A Redis error reply is returned
  // as a reply (is_error), the link stays usable.
  ReplyPtr command(const Args& args);
  // Several commands in one round trip; empty when the link broke, else one reply each.
  std::vector<ReplyPtr> pipeline(const std::vector<Args>& commands);
  bool broken() const { return broken_; }

  // For a subscribed connection (SUBSCRIBE leaves it good for nothing else), read when poll()
  // says its fd is readable: send() writes a command without waiting for its reply (bounded by
  // the socket timeout); receive() reads once what has arrived and appends every complete
  // reply. Both false when the link broke.
  int fd() const;
  bool send(const Args& args);
  bool receive(std::vector<ReplyPtr>& replies);
  const std::string& why() const { return why_; }

 private:
  explicit RedisLink(redisContext* context) : context_(context) {}
  bool append(const Args& args);
  void fail(const char* what);

  redisContext* context_;
  bool broken_ = false;
  std::string why_;
};

}  // namespace jmedia::cluster
