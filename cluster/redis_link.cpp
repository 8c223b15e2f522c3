#include "redis_link.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

namespace jmedia::cluster {
namespace {

timeval to_timeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

}  // namespace

void ReplyFree::operator()(redisReply* reply) const noexcept {
  freeReplyObject(reply);
}

bool is_nil(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_NIL;
}
bool is_error(const redisReply* reply) {
  return reply == nullptr || reply->type == REDIS_REPLY_ERROR;
}
std::optional<std::string> string_of(const redisReply* reply) {
  if (reply == nullptr || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS))
    return std::nullopt;
  return std::string(reply->str, reply->len);
}
std::optional<long long> integer_of(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) return std::nullopt;
  return reply->integer;
}
std::size_t elements_of(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
}
const redisReply* element(const redisReply* reply, std::size_t i) {
  return i < elements_of(reply) ? reply->element[i] : nullptr;
}

std::unique_ptr<RedisLink> RedisLink::connect(const Endpoint& endpoint, const std::string& password,
                                              std::chrono::milliseconds timeout, std::string& why) {
  const timeval tv = to_timeval(timeout);
  redisContext* context = endpoint.unix_socket()
                              ? redisConnectUnixWithTimeout(endpoint.host.c_str(), tv)
                              : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv);
  if (context == nullptr) {
    why = "out of memory";
    return nullptr;
  }
  if (context->err != 0) {
    why = context->errstr;
    redisFree(context);
    return nullptr;
  }
  std::unique_ptr<RedisLink> link(new RedisLink(context));
  if (redisSetTimeout(context, tv) != REDIS_OK) {
    why = "cannot set the socket timeout";
    return nullptr;
  }
  if (!password.empty()) {
    ReplyPtr reply = link->command({"AUTH", password});
    if (!reply || is_error(reply.get())) {
      why = reply ? "AUTH refused: " + string_of(reply.get()).value_or(reply->str ? reply->str : "")
                  : "AUTH: " + link->why();
      return nullptr;
    }
  }
  return link;
}

RedisLink::~RedisLink() {
  redisFree(context_);
}

void RedisLink::fail(const char* what) {
  broken_ = true;
  why_ = std::string(what) + ": " + (context_->err != 0 ? context_->errstr : "no reply");
}

bool RedisLink::append(const Args& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    fail("append");
    return false;
  }
  return true;
}

ReplyPtr RedisLink::command(const Args& args) {
  auto replies = pipeline({args});
  if (replies.empty()) return nullptr;
  return std::move(replies.front());
}

std::vector<ReplyPtr> RedisLink::pipeline(const std::vector<Args>& commands) {
  if (broken_) return {};
  for (const auto& args : commands) {
    if (!append(args)) return {};
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      fail("reply");
      return {};
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

int RedisLink::fd() const {
  return context_->fd;
}

bool RedisLink::send(const Args& args) {
  if (broken_ || !append(args)) return false;
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) {
      fail("write");
      return false;
    }
  }
  return true;
}

bool RedisLink::receive(std::vector<ReplyPtr>& replies) {
  if (broken_) return false;
  if (redisBufferRead(context_) != REDIS_OK) {
    fail("read");
    return false;
  }
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) {
      fail("reply");
      return false;
    }
    if (raw == nullptr) return true;
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
}

}  // namespace jmedia::cluster
