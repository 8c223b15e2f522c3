// The directory client against a real redis-server on a free loopback port (redis_server.h).
#include "../../cluster/directory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>

#include "../../cluster/directory_keys.h"
#include "../unit/eventually.h"
#include "redis_server.h"

namespace jmedia::cluster {
namespace {

using std::chrono::milliseconds;
using testing::RedisServer;

// A plugin stand-in: the devices it publishes, and the losses it is told of.
class FakeOwner final : public DirectoryListener {
 public:
  NodeLoad load() override { return NodeLoad{3, 2}; }
  std::vector<PublishedDevice> published() override {
    std::lock_guard lock(mutex_);
    std::vector<PublishedDevice> devices;
    for (const auto& id : devices_) devices.push_back(PublishedDevice{id, 1});
    return devices;
  }
  bool publishes(const std::string& device_id) override {
    std::lock_guard lock(mutex_);
    return devices_.count(device_id) != 0;
  }
  void device_lost(const std::string& device_id, const std::string& holder) override {
    std::lock_guard lock(mutex_);
    devices_.erase(device_id);  // as the plugin does: the publisher is ended
    lost_.emplace_back(device_id, holder);
  }
  void node_joined(const std::string& node_id) override {
    std::lock_guard lock(mutex_);
    joined_.push_back(node_id);
  }
  void node_left(const std::string& node_id) override {
    std::lock_guard lock(mutex_);
    left_.emplace_back(node_id, std::chrono::steady_clock::now());
  }
  void directory_up() override { ups_.fetch_add(1); }
  void directory_down() override { downs_.fetch_add(1); }
  void publish(const std::string& id) {
    std::lock_guard lock(mutex_);
    devices_.insert(id);
  }
  void unpublish(const std::string& id) {
    std::lock_guard lock(mutex_);
    devices_.erase(id);
  }
  std::vector<std::pair<std::string, std::string>> lost() {
    std::lock_guard lock(mutex_);
    return lost_;
  }
  std::vector<std::string> joined() {
    std::lock_guard lock(mutex_);
    return joined_;
  }
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> left() {
    std::lock_guard lock(mutex_);
    return left_;
  }
  int ups() const { return ups_.load(); }
  int downs() const { return downs_.load(); }

 private:
  std::atomic<int> ups_{0};
  std::atomic<int> downs_{0};
  std::vector<std::string> joined_;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> left_;
  std::mutex mutex_;
  std::set<std::string> devices_;
  std::vector<std::pair<std::string, std::string>> lost_;
};

DirectoryOptions options_for(const RedisServer& redis, const std::string& node,
                             milliseconds heartbeat = milliseconds(100),
                             milliseconds ttl = milliseconds(500)) {
  DirectoryOptions options;
  options.redis = Endpoint{"127.0.0.1", redis.port()};
  options.node_id = node;
  options.api_url = "http://127.0.0.1:1/janus";
  options.heartbeat = heartbeat;
  options.node_ttl = ttl;
  options.backoff_min = milliseconds(50);
  options.backoff_max = milliseconds(200);
  return options;
}

using jmedia::testing::eventually;

bool up(const Directory& directory) {
  return eventually([&] { return directory.redis_up(); });
}

TEST(DirectoryTest, AClaimIsExclusive) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  Directory a(options_for(redis, "node-a"), owner_a);
  Directory b(options_for(redis, "node-b"), owner_b);
  ASSERT_TRUE(up(a) && up(b));
  const auto first = a.claim("cam-1");
  EXPECT_EQ(first.result, Directory::ClaimResult::kClaimed);
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "node-a");
  const std::string ttl = redis.query({"PTTL", device_key("cam-1")});
  EXPECT_GT(std::stoll(ttl), 0) << "the claim has a TTL";
  EXPECT_LE(std::stoll(ttl), 500);
  const auto second = b.claim("cam-1");
  EXPECT_EQ(second.result, Directory::ClaimResult::kTaken);
  EXPECT_EQ(second.holder, "node-a");
  // The same node again (a second local publish, which the local registry answers): its own.
  EXPECT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  EXPECT_EQ(b.lookup("cam-1").holder, "node-a");
  EXPECT_TRUE(b.lookup("cam-1").available);
  EXPECT_EQ(b.lookup("cam-2").holder, "");
}

TEST(DirectoryTest, HeartbeatsRefreshOnlyClaimsStillOurs) {
  RedisServer redis;
  FakeOwner owner;
  Directory a(options_for(redis, "node-a"), owner);
  ASSERT_TRUE(up(a));
  owner.publish("cam-1");
  ASSERT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  // Three TTLs later the claim is still there: refreshed by the heartbeats.
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "node-a");
  // Another node holds it now (as after an outage): never overwritten, and the owner is told.
  ASSERT_EQ(redis.query({"SET", device_key("cam-1"), "node-b", "PX", "5000"}), "OK");
  ASSERT_TRUE(eventually([&] { return !owner.lost().empty(); }));
  EXPECT_EQ(owner.lost().front(), std::make_pair(std::string("cam-1"), std::string("node-b")));
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "node-b");
}

TEST(DirectoryTest, AReleaseDeletesOnlyAClaimStillOurs) {
  RedisServer redis;
  FakeOwner owner;
  Directory a(options_for(redis, "node-a"), owner);
  ASSERT_TRUE(up(a));
  ASSERT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  a.release("cam-1");
  a.lookup("cam-1");  // FIFO: the release ran before this answer
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "(nil)");
  ASSERT_EQ(a.claim("cam-2").result, Directory::ClaimResult::kClaimed);
  ASSERT_EQ(redis.query({"SET", device_key("cam-2"), "node-b", "PX", "5000"}), "OK");
  a.release("cam-2");
  EXPECT_TRUE(a.lookup("cam-2").available);
  EXPECT_EQ(redis.query({"GET", device_key("cam-2")}), "node-b");
}

TEST(DirectoryTest, ADeadNodesClaimExpiresWithinItsTtl) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  auto a = std::make_unique<Directory>(options_for(redis, "node-a"), owner_a);
  Directory b(options_for(redis, "node-b"), owner_b);
  ASSERT_TRUE(up(*a) && up(b));
  owner_a.publish("cam-1");
  ASSERT_EQ(a->claim("cam-1").result, Directory::ClaimResult::kClaimed);
  ASSERT_TRUE(eventually([&] { return b.live_nodes() == 2; }));
  a->stop(false);  // as SIGKILL: nothing withdrawn
  const auto died = std::chrono::steady_clock::now();
  EXPECT_EQ(b.claim("cam-1").result, Directory::ClaimResult::kTaken);
  ASSERT_TRUE(
      eventually([&] { return b.claim("cam-1").result == Directory::ClaimResult::kClaimed; },
                 milliseconds(1500)));
  EXPECT_LE(std::chrono::steady_clock::now() - died, milliseconds(500 + 1000));
  // Its record expired too: B's view drops it (and prunes the index).
  ASSERT_TRUE(eventually([&] { return b.live_nodes() == 1; }, milliseconds(1500)));
  EXPECT_EQ(redis.query({"SISMEMBER", nodes_key(), "node-a"}), "0");
}

TEST(DirectoryTest, ANodeKilledWithoutAWordIsReportedGoneWithinItsTtlAndAHeartbeat) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  auto a = std::make_unique<Directory>(options_for(redis, "node-a"), owner_a);
  Directory b(options_for(redis, "node-b"), owner_b);
  ASSERT_TRUE(up(*a) && up(b));
  ASSERT_TRUE(eventually([&] { return owner_b.joined() == std::vector<std::string>{"node-a"}; }));
  ASSERT_TRUE(eventually([&] { return owner_a.joined() == std::vector<std::string>{"node-b"}; }));
  a->stop(false);  // as SIGKILL: its record stays until it expires
  const auto died = std::chrono::steady_clock::now();
  // TTL 500 ms from its last refresh (at most one heartbeat before), read at B's next
  // heartbeat (100 ms): 600 ms, and 400 ms for the round trips of a loaded machine.
  ASSERT_TRUE(eventually([&] { return !owner_b.left().empty(); }, milliseconds(2000)));
  const auto left = owner_b.left();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].first, "node-a");
  std::cerr << "node-a reported gone "
            << std::chrono::duration_cast<milliseconds>(left[0].second - died).count()
            << " ms after it stopped\n";
  EXPECT_LE(left[0].second - died, milliseconds(500 + 100 + 400));
  EXPECT_GE(left[0].second - died, milliseconds(500 - 100 - 50)) << "not before its TTL";
  EXPECT_EQ(owner_b.joined().size(), 1u) << "B itself is never reported";
  // It comes back: reported again.
  Directory again(options_for(redis, "node-a"), owner_a);
  ASSERT_TRUE(eventually([&] { return owner_b.joined().size() == 2; }));
  EXPECT_EQ(owner_b.joined()[1], "node-a");
}

TEST(DirectoryTest, ACleanStopIsReportedGoneAtTheNextHeartbeat) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  // A TTL of a minute: only the withdrawal can make it go this fast.
  auto a = std::make_unique<Directory>(
      options_for(redis, "node-a", milliseconds(100), milliseconds(60000)), owner_a);
  Directory b(options_for(redis, "node-b", milliseconds(100), milliseconds(60000)), owner_b);
  ASSERT_TRUE(up(*a) && up(b));
  ASSERT_TRUE(eventually([&] { return owner_b.joined().size() == 1; }));
  a->stop();
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return !owner_b.left().empty(); }, milliseconds(2000)));
  EXPECT_EQ(owner_b.left()[0].first, "node-a");
  EXPECT_LE(owner_b.left()[0].second - stopped, milliseconds(100 + 400));
}

TEST(DirectoryTest, TheListenerHearsOnceWhenRedisIsLostAndOnceWhenItIsBack) {
  RedisServer redis;
  FakeOwner owner;
  Directory a(options_for(redis, "node-a"), owner);
  ASSERT_TRUE(eventually([&] { return owner.ups() == 1; }));
  EXPECT_TRUE(a.redis_up());
  EXPECT_EQ(owner.downs(), 0);
  redis.stop();
  ASSERT_TRUE(eventually([&] { return owner.downs() == 1; }));
  EXPECT_FALSE(a.redis_up());
  // Several failed attempts later (backoff 50-200 ms), still one.
  const auto errors = a.errors();
  ASSERT_TRUE(eventually([&] { return a.errors() >= errors + 3; }));
  EXPECT_EQ(owner.downs(), 1);
  EXPECT_EQ(owner.ups(), 1);
  owner.publish("cam-1");
  redis.start();
  ASSERT_TRUE(eventually([&] { return owner.ups() == 2; }));
  // Told once registered again: its claim is back already.
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "node-a");
  EXPECT_TRUE(a.redis_up());
  EXPECT_EQ(owner.downs(), 1);
}

TEST(DirectoryTest, ACleanStopWithdrawsTheNodeAndItsClaims) {
  RedisServer redis;
  FakeOwner owner;
  Directory a(options_for(redis, "node-a", milliseconds(100), milliseconds(60000)), owner);
  ASSERT_TRUE(up(a));
  owner.publish("cam-1");
  ASSERT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  EXPECT_EQ(redis.query({"EXISTS", node_key("node-a")}), "1");
  a.stop();
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "(nil)");
  EXPECT_EQ(redis.query({"EXISTS", node_key("node-a")}), "0");
  EXPECT_EQ(redis.query({"SISMEMBER", nodes_key(), "node-a"}), "0");
}

TEST(DirectoryTest, TheViewListsEveryLiveNodesDevices) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  Directory a(options_for(redis, "node-a"), owner_a);
  Directory b(options_for(redis, "node-b"), owner_b);
  ASSERT_TRUE(up(a) && up(b));
  owner_a.publish("cam-1");
  owner_b.publish("cam-2");
  ASSERT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  ASSERT_EQ(b.claim("cam-2").result, Directory::ClaimResult::kClaimed);
  std::shared_ptr<const ClusterView> view;
  ASSERT_TRUE(eventually([&] {
    view = a.view();
    // The viewer counts come with a heartbeat (a claim lists its device with 0 at once).
    return view && view->nodes.size() == 2 && view->devices.size() == 2 &&
           view->devices[1].viewers == 1;
  }));
  EXPECT_EQ(view->nodes[0].node_id, "node-a");
  EXPECT_NE(view->nodes[0].record.find("\"api_url\":\"http://127.0.0.1:1/janus\""),
            std::string::npos)
      << view->nodes[0].record;
  EXPECT_EQ(view->devices[0].device_id, "cam-1");
  EXPECT_EQ(view->devices[0].node_id, "node-a");
  EXPECT_EQ(view->devices[1].device_id, "cam-2");
  EXPECT_EQ(view->devices[1].node_id, "node-b");
  EXPECT_EQ(view->devices[1].viewers, 1u);
  EXPECT_EQ(a.live_nodes(), 2u);
}

TEST(DirectoryTest, ReconnectsAfterARedisRestartAndClaimsItsDevicesAgain) {
  RedisServer redis;
  FakeOwner owner;
  Directory a(options_for(redis, "node-a"), owner);
  ASSERT_TRUE(up(a));
  owner.publish("cam-1");
  ASSERT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  const auto errors_before = a.errors();
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !a.redis_up(); }));
  EXPECT_GT(a.errors(), errors_before);
  EXPECT_EQ(a.view(), nullptr);
  EXPECT_FALSE(a.lookup("cam-1").available);
  // Published during the outage: accepted locally.
  owner.publish("cam-3");
  EXPECT_EQ(a.claim("cam-3").result, Directory::ClaimResult::kUnavailable);
  redis.start();  // empty: --save ""
  ASSERT_TRUE(up(a));
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), "node-a");
  EXPECT_EQ(redis.query({"GET", device_key("cam-3")}), "node-a");
  EXPECT_EQ(redis.query({"EXISTS", node_key("node-a")}), "1");
  EXPECT_GE(a.connects(), 2u);
  EXPECT_TRUE(a.lookup("cam-1").available);
}

TEST(DirectoryTest, ANodeSlowerToComeBackAfterARedisRestartIsNotReportedGone) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  // A reconnects 1.5 s after Redis is back, B within 200 ms: B's first views after the restart
  // (an empty Redis) lack A, which is alive and registers again well within the TTL.
  auto slow = options_for(redis, "node-a", milliseconds(100), milliseconds(3000));
  slow.backoff_min = milliseconds(1500);
  slow.backoff_max = milliseconds(1500);
  Directory a(slow, owner_a);
  Directory b(options_for(redis, "node-b", milliseconds(100), milliseconds(3000)), owner_b);
  ASSERT_TRUE(up(a) && up(b));
  ASSERT_TRUE(eventually([&] { return owner_b.joined() == std::vector<std::string>{"node-a"}; }));
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !a.redis_up() && !b.redis_up(); }));
  redis.start();  // empty
  ASSERT_TRUE(eventually([&] { return b.redis_up(); }));
  EXPECT_FALSE(a.redis_up()) << "A is to come back after B";
  // Back in B's view: B read views without A all along, and must not have reported it gone.
  ASSERT_TRUE(eventually(
      [&] {
        const auto view = b.view();
        return view && view->nodes.size() == 2;
      },
      milliseconds(5000)));
  EXPECT_TRUE(owner_b.left().empty()) << "node-a reported gone after the restart";
  EXPECT_EQ(owner_b.joined().size(), 1u);
}

TEST(DirectoryTest, AfterAnOutageOneOfTwoLocalPublishersOfADeviceIsTold) {
  RedisServer redis;
  FakeOwner owner_a, owner_b;
  Directory a(options_for(redis, "node-a"), owner_a);
  Directory b(options_for(redis, "node-b"), owner_b);
  ASSERT_TRUE(up(a) && up(b));
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !a.redis_up() && !b.redis_up(); }));
  owner_a.publish("cam-1");
  owner_b.publish("cam-1");
  EXPECT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kUnavailable);
  EXPECT_EQ(b.claim("cam-1").result, Directory::ClaimResult::kUnavailable);
  redis.start();
  ASSERT_TRUE(eventually([&] { return owner_a.lost().size() + owner_b.lost().size() == 1; }));
  const std::string holder = redis.query({"GET", device_key("cam-1")});
  const bool a_lost = !owner_a.lost().empty();
  EXPECT_EQ(holder, a_lost ? "node-b" : "node-a");
  EXPECT_EQ((a_lost ? owner_a : owner_b).lost().front().second, holder);
  // The holder keeps it over later heartbeats; the loser is told once (it ended its publisher).
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(owner_a.lost().size() + owner_b.lost().size(), 1u);
  EXPECT_EQ(redis.query({"GET", device_key("cam-1")}), holder);
}

TEST(DirectoryTest, AuthenticatesWithThePassword) {
  RedisServer redis("test-password-1");
  FakeOwner owner_ok, owner_bad;
  auto options = options_for(redis, "node-a");
  options.password = "test-password-1";
  Directory a(options, owner_ok);
  ASSERT_TRUE(up(a));
  EXPECT_EQ(a.claim("cam-1").result, Directory::ClaimResult::kClaimed);
  auto wrong = options_for(redis, "node-b");
  wrong.password = "wrong";
  Directory b(wrong, owner_bad);
  ASSERT_TRUE(eventually([&] { return b.errors() >= 2; }));
  EXPECT_FALSE(b.redis_up());
  EXPECT_EQ(b.claim("cam-1").result, Directory::ClaimResult::kUnavailable);
}

}  // namespace
}  // namespace jmedia::cluster
