#include "device.h"

#include <algorithm>
#include <utility>

#include "rtp_rewriter.h"

namespace jmedia {

std::size_t Device::route_rtp(const Producer& from, janus_plugin_rtp& packet) const {
  if (producer_raw_.load(std::memory_order_acquire) != &from) return 0;
  const auto consumers = this->consumers();
  if (consumers->empty()) return 0;
  RtpRewriter::Header original;
  if (!RtpRewriter::save(packet.buffer, packet.length, original)) return 0;
  const int mindex = packet.mindex;
  const bool video = packet.video != FALSE;
  std::size_t copies = 0;
  for (const auto& consumer : *consumers) {
    if (!consumer->wants(video)) continue;
    consumer->send_rtp(packet);
    RtpRewriter::restore(packet.buffer, original);
    packet.mindex = mindex;
    ++copies;
  }
  return copies;
}

std::size_t Device::route_data(const Producer& from, janus_plugin_data& packet) const {
  if (producer_raw_.load(std::memory_order_acquire) != &from) return 0;
  std::size_t copies = 0;
  for (const auto& consumer : *consumers()) {
    if (!consumer->wants_data()) continue;
    consumer->send_data(packet);
    ++copies;
  }
  return copies;
}

std::size_t Device::viewer_count() const {
  const auto list = consumers();
  return static_cast<std::size_t>(
      std::count_if(list->begin(), list->end(),
                    [](const auto& consumer) { return consumer->session_handle() != nullptr; }));
}

void Device::request_keyframe(bool new_consumer) const {
  if (auto producer = this->producer()) producer->request_keyframe(new_consumer);
}

bool Device::has_producer() const {
  std::lock_guard lock(mutex_);
  return producer_ != nullptr;
}

std::shared_ptr<Producer> Device::producer() const {
  std::lock_guard lock(mutex_);
  return producer_;
}

std::optional<PublisherMedia> Device::media() const {
  std::lock_guard lock(mutex_);
  return media_;
}

void Device::set_producer(std::shared_ptr<Producer> producer, PublisherMedia media) {
  {
    std::lock_guard lock(mutex_);
    stop_consumers_with_other_codecs(media);
    ++producers_;
    producer_raw_.store(producer.get(), std::memory_order_release);
    producer_ = std::move(producer);
    media_ = std::move(media);
  }
  tell_listener_if_consumers();
}

bool Device::update_media(const Producer* producer, PublisherMedia media) {
  {
    std::lock_guard lock(mutex_);
    if (producer_.get() != producer || producer == nullptr) return false;
    stop_consumers_with_other_codecs(media);
    media_ = std::move(media);
  }
  tell_listener_if_consumers();
  return true;
}

void Device::stop_consumers_with_other_codecs(const PublisherMedia& media) const {
  for (const auto& consumer : *consumers()) {
    if (!consumer->offered_.same_codecs(media)) consumer->stop();
  }
}

bool Device::clear_producer(const Producer* producer) {
  std::shared_ptr<Producer> removed;  // released after the lock
  {
    std::lock_guard lock(mutex_);
    if (producer_.get() != producer || producer == nullptr) return false;
    producer_raw_.store(nullptr, std::memory_order_release);
    removed = std::move(producer_);
  }
  tell_listener_if_consumers();
  return true;
}

void Device::tell_listener_if_consumers() {
  if (listener_ != nullptr && !consumers()->empty()) listener_->device_has_news(shared_from_this());
}

PublisherMedia Device::add_consumer(std::shared_ptr<Consumer> consumer) {
  std::lock_guard lock(mutex_);
  consumer->stop();
  consumer->told_producer_ = producer_ ? producers_ : 0;
  consumer->offered_ = media_.value_or(PublisherMedia{});
  consumer->use_media(consumer->offered_);
  PublisherMedia media = consumer->offered_;
  auto next = std::make_shared<ConsumerList>(*consumers());
  next->push_back(std::move(consumer));
  publish_consumers(std::move(next));
  return media;
}

void Device::start_consumer(Consumer& consumer) {
  std::lock_guard lock(mutex_);
  consumer.started_.store(!media_ || consumer.offered_.same_codecs(*media_),
                          std::memory_order_release);
}

DeviceNews Device::take_news() {
  std::lock_guard lock(mutex_);
  const std::uint64_t now = producer_ ? producers_ : 0;
  DeviceNews news;
  if (media_) news.media = *media_;
  for (const auto& consumer : *consumers()) {
    ConsumerNews item{consumer};
    item.producer_left = consumer->told_producer_ != 0 && consumer->told_producer_ != now;
    if (now != 0) {
      if (!consumer->offered_.same_codecs(news.media)) {
        item.joined = ConsumerNews::Joined::kNewOffer;
        consumer->offered_ = news.media;
        consumer->stop();
        consumer->use_media(news.media);
      } else if (consumer->told_producer_ != now) {
        item.joined = ConsumerNews::Joined::kSameCodecs;
      }
    }
    consumer->told_producer_ = now;
    if (item.producer_left || item.joined != ConsumerNews::Joined::kNone) {
      news.consumers.push_back(std::move(item));
    }
  }
  return news;
}

std::shared_ptr<Consumer> Device::remove_consumer(const Consumer* consumer) {
  std::lock_guard lock(mutex_);
  auto current = consumers();
  auto next = std::make_shared<ConsumerList>();
  next->reserve(current->size());
  std::shared_ptr<Consumer> removed;
  for (const auto& c : *current) {
    if (c.get() == consumer) {
      removed = c;
    } else {
      next->push_back(c);
    }
  }
  if (removed) publish_consumers(std::move(next));
  return removed;
}

void Device::publish_consumers(std::shared_ptr<const ConsumerList> next) {
  std::shared_ptr<const ConsumerList> previous;
  {
    std::lock_guard lock(snapshot_mutex_);
    previous = std::move(consumers_);
    consumers_ = std::move(next);
  }
  // previous (and a consumer only it held) is released here, outside the snapshot lock.
}

bool Device::empty() const {
  std::lock_guard lock(mutex_);
  return producer_ == nullptr && consumers()->empty();
}

}  // namespace jmedia
