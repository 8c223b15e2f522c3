// A stand-in for janus.plugin.media's published view (runtime/media_view.h): it records the
// request objects the REST API hands it, answers what the test scripts (by request name), and
// can hold reads until several are inside at once. Published in the process's runtime for its
// lifetime (the API finds it there as it finds the plugin's).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../../common/json.h"
#include "media_view.h"

namespace jmedia::testing {

class FakeView final : public runtime::MediaView {
 public:
  FakeView() {
    reply("list", R"({"media":"list","sessions":[],"next_cursor":null})");
    reply("info", R"({"media":"info","session":{"media_session":"0123456789abcdef"}})");
    reply("devices", R"({"media":"devices","devices":[],"next_cursor":null})");
    reply("kick", R"({"media":"kick","kicked":1})");
    reply("drain", R"({"media":"drain","enabled":true,"active_sessions":0})");
  }
  ~FakeView() override { unpublish(); }

  bool publish() { return runtime::publish_media_view(this); }
  void unpublish() { runtime::withdraw_media_view(this, std::chrono::seconds(5)); }

  // What the request named `request` answers ("null": nothing, as a plugin going away).
  void reply(const std::string& request, const std::string& json) {
    std::lock_guard lock(mutex_);
    replies_[request] = json;
  }

  JsonPtr read(const json_t* request) override { return answer(request, "read"); }
  JsonPtr command(const json_t* request) override { return answer(request, "command"); }
  bool token_access() override { return token_mode.load(); }

  // "read {...}" / "command {...}", compact JSON with sorted keys, in call order.
  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::string last_call() {
    auto all = calls();
    return all.empty() ? "" : all.back();
  }
  void clear() {
    std::lock_guard lock(mutex_);
    calls_.clear();
  }

  std::atomic<bool> token_mode{false};
  // While > 0, a call waits (at most 5 s) until this many calls have arrived.
  std::atomic<int> hold_until_inside{0};
  std::atomic<int> most_inside{0};

 private:
  JsonPtr answer(const json_t* request, const char* kind) {
    ++arrived_;
    const int now = ++inside_;
    int seen = most_inside.load();
    while (now > seen && !most_inside.compare_exchange_weak(seen, now)) {
    }
    std::string name;
    if (const json_t* value = json_object_get(request, "request"); json_is_string(value)) {
      name = json_string_value(value);
    }
    std::string json;
    {
      std::unique_lock lock(mutex_);
      char* text = json_dumps(request, JSON_COMPACT | JSON_SORT_KEYS);
      calls_.push_back(std::string(kind) + " " + (text != nullptr ? text : "?"));
      std::free(text);
      json = replies_.contains(name) ? replies_[name] : R"({"media":"event","error_code":1003})";
      changed_.notify_all();
      if (hold_until_inside.load() > 0) {
        changed_.wait_for(lock, std::chrono::seconds(5),
                          [&] { return arrived_.load() >= hold_until_inside.load(); });
      }
    }
    --inside_;
    if (json == "null") return nullptr;
    json_error_t error;
    return adopt(json_loads(json.c_str(), 0, &error));
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::string> replies_;
  std::vector<std::string> calls_;
  std::atomic<int> inside_{0};
  std::atomic<int> arrived_{0};
};

}  // namespace jmedia::testing
