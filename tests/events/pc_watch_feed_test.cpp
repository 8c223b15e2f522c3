// The event handler feeds the PeerConnection watch (runtime/pc_watch.h) that janus.transport.edge
// holds hangups and detaches by (issue 18): SDPs, the first selected pair, ICE failure, hangup,
// detach; a private watch per test, the edge played by a listener.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "../../common/json.h"
#include "../../events/event_aggregator.h"
#include "../../events/event_shapes.h"
#include "event_json.h"

namespace jmedia::events {
namespace {

using testing::handle_head;
using testing::kHandle;
using testing::kSession;

using runtime::HandleKey;

struct Told final : runtime::PcListener {
  std::vector<HandleKey> keys;
  void settled(const HandleKey& key) noexcept override { keys.push_back(key); }
};

class PcWatchFeed : public ::testing::Test {
 protected:
  void make(std::uint32_t mask = kDefaultEventsMask) {
    EventHandlerConfig c;
    c.events_mask = mask;
    aggregator_ = std::make_unique<EventAggregator>(registry_, c, nullptr, &watch_);
    ASSERT_TRUE(watch_.set_listener(&told_));
  }
  void feed(const std::string& text) {
    json_error_t error;
    JsonPtr event = adopt(json_loads(text.c_str(), 0, &error));
    ASSERT_NE(event, nullptr) << error.text << " in " << text;
    aggregator_->consume(event.get());
  }
  void sdp(const char* owner) {
    feed(handle_head(8, 0) + R"(,"event":{"owner":")" + owner +
         R"(","jsep":{"type":"offer","sdp":"v=0\r\n"}}})");
  }
  void pair() {
    feed(handle_head(16, 4) +
         R"(,"event":{"selected-pair":"127.0.0.1:1 [host,udp] <-> 127.0.0.1:2 [host,udp]",)"
         R"("stream_id":1,"component_id":1}})");
  }

  prometheus::Registry registry_;
  runtime::PcWatch watch_;
  Told told_;
  std::unique_ptr<EventAggregator> aggregator_;
  const HandleKey key_{kSession, kHandle};
};

TEST_F(PcWatchFeed, TheFirstSelectedPairSettlesAndIsToldOnce) {
  make();
  EXPECT_TRUE(watch_.fed());
  sdp("remote");
  sdp("local");
  EXPECT_FALSE(watch_.is_settled(key_));
  EXPECT_TRUE(told_.keys.empty());
  pair();
  pair();  // a later pair (trickling): told once
  EXPECT_TRUE(watch_.is_settled(key_));
  ASSERT_EQ(told_.keys.size(), 1u);
  EXPECT_EQ(told_.keys[0], key_);
  feed(handle_head(16, 6) + R"(,"event":{"connection":"hangup","reason":"Close PC"}})");
  EXPECT_FALSE(watch_.is_settled(key_));
  EXPECT_EQ(told_.keys.size(), 2u);
  feed(handle_head(2, 0) + R"(,"event":{"name":"detached","plugin":"janus.plugin.echotest"}})");
  EXPECT_EQ(told_.keys.size(), 3u);
  EXPECT_EQ(watch_.tracked(), 0u);
  aggregator_.reset();
  EXPECT_FALSE(watch_.fed());
  watch_.clear_listener(&told_);
}

TEST_F(PcWatchFeed, RemoteCandidatesAndIceConnectingAreActivity) {
  make();
  sdp("remote");
  EXPECT_TRUE(watch_.is_quiet(key_));
  feed(handle_head(16, 1) + R"(,"event":{"ice":"gathering","stream_id":1,"component_id":1}})");
  EXPECT_TRUE(watch_.is_quiet(key_));
  feed(handle_head(16, 1) + R"(,"event":{"ice":"connecting","stream_id":1,"component_id":1}})");
  EXPECT_FALSE(watch_.is_quiet(key_));
  // A new PeerConnection after a hangup starts quiet; a remote candidate is activity.
  feed(handle_head(16, 6) + R"(,"event":{"connection":"hangup","reason":"Close PC"}})");
  sdp("remote");
  EXPECT_TRUE(watch_.is_quiet(key_));
  feed(handle_head(16, 3) +
       R"(,"event":{"remote-candidate":"1 1 udp 2130706431 127.0.0.1 5000 typ host",)"
       R"("stream_id":1,"component_id":1}})");
  EXPECT_FALSE(watch_.is_quiet(key_));
  watch_.clear_listener(&told_);
}

TEST_F(PcWatchFeed, IceFailureSettlesToo) {
  make();
  sdp("remote");
  feed(handle_head(16, 1) + R"(,"event":{"ice":"checking","stream_id":1,"component_id":1}})");
  EXPECT_TRUE(told_.keys.empty());
  feed(handle_head(16, 1) + R"(,"event":{"ice":"failed","stream_id":1,"component_id":1}})");
  EXPECT_TRUE(watch_.is_settled(key_));
  EXPECT_EQ(told_.keys.size(), 1u);
  watch_.clear_listener(&told_);
}

TEST_F(PcWatchFeed, NotFedWithoutTheEventsItNeeds) {
  make(kTypeHandle | kTypeJsep);  // no webrtc: no selected pair would ever come
  EXPECT_FALSE(watch_.fed());
  sdp("remote");
  pair();
  EXPECT_TRUE(told_.keys.empty());
  watch_.clear_listener(&told_);
}

}  // namespace
}  // namespace jmedia::events
