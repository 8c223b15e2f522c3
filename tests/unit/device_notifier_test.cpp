// What consumers are told about their device's producer (Device::take_news) and the thread
// that tells them (DeviceNotifier): changes coalesce per device, in order, and the fan-out
// never runs on the thread that made the change.
#include "../../plugin/device_notifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../plugin/local_viewer.h"
#include "fake_host.h"

namespace jmedia {
namespace {

using testing::FakeHost;
using Joined = ConsumerNews::Joined;

PublisherMedia media(const std::string& video_codec, int video_payload_type = 96) {
  PublisherMedia m;
  m.audio_codec = "opus";
  m.audio_payload_type = 111;
  m.video_codec = video_codec;
  m.video_payload_type = video_payload_type;
  return m;
}

// A producer nobody asks anything of here.
class QuietProducer final : public Producer {
 public:
  void request_keyframe(bool /*new_consumer*/) override {}
};

class DeviceNewsTest : public ::testing::Test {
 protected:
  static std::shared_ptr<Producer> producer() { return std::make_shared<QuietProducer>(); }
  // A viewer that watched the producer there now and answered.
  std::shared_ptr<LocalViewer> watch() {
    auto viewer = std::make_shared<LocalViewer>(host, host.new_handle());
    device.add_consumer(viewer);
    device.start_consumer(*viewer);
    return viewer;
  }

  FakeHost host;
  Device device{"cam1"};
};

TEST_F(DeviceNewsTest, AViewerThatWatchesThePublisherThereNowHasNothingToHear) {
  auto publisher = producer();
  device.set_producer(publisher, media("vp8"));
  auto viewer = watch();
  EXPECT_TRUE(viewer->started());
  EXPECT_TRUE(device.take_news().consumers.empty());
}

TEST_F(DeviceNewsTest, LeaveThenSameCodecs) {
  auto first = producer();
  device.set_producer(first, media("vp8"));
  auto viewer = watch();
  ASSERT_TRUE(device.clear_producer(first.get()));
  auto left = device.take_news();
  ASSERT_EQ(left.consumers.size(), 1u);
  EXPECT_TRUE(left.consumers[0].producer_left);
  EXPECT_EQ(left.consumers[0].joined, Joined::kNone);
  EXPECT_TRUE(device.take_news().consumers.empty()) << "told once";
  device.set_producer(producer(), media("vp8", 120));  // same codec, another number
  auto joined = device.take_news();
  ASSERT_EQ(joined.consumers.size(), 1u);
  EXPECT_FALSE(joined.consumers[0].producer_left);
  EXPECT_EQ(joined.consumers[0].joined, Joined::kSameCodecs);
  EXPECT_TRUE(viewer->started()) << "same codecs: media goes on";
}

TEST_F(DeviceNewsTest, ChangesWhileNobodyToldCoalesceIntoLeaveAndOneOffer) {
  auto first = producer();
  device.set_producer(first, media("vp8"));
  auto viewer = watch();
  device.clear_producer(first.get());
  auto second = producer();
  device.set_producer(second, media("h264"));
  EXPECT_FALSE(viewer->started()) << "no media of other codecs before the new offer";
  device.clear_producer(second.get());
  device.set_producer(producer(), media("vp9"));
  auto news = device.take_news();
  ASSERT_EQ(news.consumers.size(), 1u);
  EXPECT_TRUE(news.consumers[0].producer_left);
  EXPECT_EQ(news.consumers[0].joined, Joined::kNewOffer);
  EXPECT_EQ(news.media.video_codec, "vp9");
  EXPECT_TRUE(device.take_news().consumers.empty());
}

TEST_F(DeviceNewsTest, ARenegotiationOffersOnlyViewersWhoseCodecsNoLongerMatch) {
  auto publisher = producer();
  device.set_producer(publisher, media("vp8"));
  auto viewer = watch();
  EXPECT_FALSE(device.update_media(producer().get(), media("h264"))) << "not the producer";
  EXPECT_TRUE(viewer->started());
  EXPECT_TRUE(device.update_media(publisher.get(), media("vp8", 100)));
  EXPECT_TRUE(device.take_news().consumers.empty()) << "same codecs: nothing to tell";
  EXPECT_TRUE(device.update_media(publisher.get(), media("h264")));
  EXPECT_FALSE(viewer->started());
  auto news = device.take_news();
  ASSERT_EQ(news.consumers.size(), 1u);
  EXPECT_FALSE(news.consumers[0].producer_left) << "the same producer";
  EXPECT_EQ(news.consumers[0].joined, Joined::kNewOffer);
  EXPECT_EQ(news.media.video_codec, "h264");
}

TEST_F(DeviceNewsTest, OnlyAnAnswerToTheCurrentCodecsStartsAViewer) {
  auto publisher = producer();
  device.set_producer(publisher, media("vp8"));
  auto viewer = watch();
  device.update_media(publisher.get(), media("h264"));
  device.start_consumer(*viewer);  // answers the vp8 offer
  EXPECT_FALSE(viewer->started());
  device.take_news();  // the h264 offer goes out
  device.start_consumer(*viewer);
  EXPECT_TRUE(viewer->started());
}

// Holds the notifier's tell until open() (at most 10 s), recording what it was called for.
class Recorder {
 public:
  void tell(const std::shared_ptr<Device>& device) {
    std::unique_lock lock(mutex_);
    told_.push_back(device->id());
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(10), [this] { return open_; });
    if (device->id() == "throws") throw std::runtime_error("tell failed");
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits (bounded) until n tells began; returns them all.
  std::vector<std::string> wait_told(std::size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return told_.size() >= n; });
    return told_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> told_;
  bool open_ = false;
};

TEST(DeviceNotifier, ADeviceWaitsOnceHoweverOftenItChanges) {
  Recorder recorder;
  DeviceNotifier notifier([&](const std::shared_ptr<Device>& d) { recorder.tell(d); });
  auto a = std::make_shared<Device>("a");
  auto b = std::make_shared<Device>("b");
  notifier.notify(a);
  ASSERT_EQ(recorder.wait_told(1), std::vector<std::string>{"a"});  // a's turn, held
  for (int i = 0; i < 3; ++i) notifier.notify(a);                   // changes meanwhile
  notifier.notify(b);
  notifier.notify(a);
  recorder.open();
  EXPECT_EQ(recorder.wait_told(3), (std::vector<std::string>{"a", "a", "b"}));
  // The next notification proves nothing else was queued before it.
  auto c = std::make_shared<Device>("c");
  notifier.notify(c);
  EXPECT_EQ(recorder.wait_told(4), (std::vector<std::string>{"a", "a", "b", "c"}));
}

TEST(DeviceNotifier, AThrowingTurnIsLoggedAndTheNextDeviceIsStillTold) {
  Recorder recorder;
  recorder.open();
  DeviceNotifier notifier([&](const std::shared_ptr<Device>& d) { recorder.tell(d); });
  notifier.notify(std::make_shared<Device>("throws"));
  notifier.notify(std::make_shared<Device>("next"));
  EXPECT_EQ(recorder.wait_told(2), (std::vector<std::string>{"throws", "next"}));
}

TEST(DeviceNotifier, StopDropsWhatWaitsAndLaterNotificationsAreIgnored) {
  Recorder recorder;
  DeviceNotifier notifier([&](const std::shared_ptr<Device>& d) { recorder.tell(d); });
  auto held = std::make_shared<Device>("held");
  auto waiting = std::make_shared<Device>("waiting");
  notifier.notify(held);
  recorder.wait_told(1);
  notifier.notify(waiting);
  std::thread stopper([&] { notifier.stop(); });  // joins after the turn in progress
  // Before it joins, stop() drops what waits: this test is the waiting device's only owner
  // again once the notifier is stopped.
  for (int i = 0; i < 5000 && waiting.use_count() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(waiting.use_count(), 1) << "the waiting device was not dropped";
  notifier.notify(std::make_shared<Device>("late"));
  recorder.open();
  stopper.join();
  EXPECT_EQ(recorder.wait_told(1), std::vector<std::string>{"held"});
}

}  // namespace
}  // namespace jmedia
