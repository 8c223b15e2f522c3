#include "device.h"

#include <random>

#include "media_session.h"

namespace jmedia {
namespace {

std::uint32_t random_ssrc() {
  thread_local std::mt19937 generator{std::random_device{}()};
  std::uint32_t ssrc = 0;
  while (ssrc == 0) ssrc = generator();
  return ssrc;
}

}  // namespace

// 20 ms of Opus at 48 kHz; one frame of 30 fps video at 90 kHz.
ViewerLink::ViewerLink(std::shared_ptr<MediaSession> session)
    : audio(random_ssrc(), 960), video(random_ssrc(), 3000), session_(std::move(session)) {}

void ViewerLink::use_payload_types(const PublisherMedia& media) {
  std::lock_guard lock(relay_mutex);
  audio.set_payload_type(media.audio_payload_type);
  video.set_payload_type(media.video_payload_type);
}

bool Device::has_publisher() const {
  std::lock_guard lock(mutex_);
  return publisher_ != nullptr;
}

std::shared_ptr<MediaSession> Device::publisher() const {
  std::lock_guard lock(mutex_);
  return publisher_;
}

std::optional<PublisherMedia> Device::media() const {
  std::lock_guard lock(mutex_);
  return media_;
}

void Device::set_publisher(std::shared_ptr<MediaSession> session, PublisherMedia media) {
  std::lock_guard lock(mutex_);
  stop_viewers_with_other_codecs(media);
  ++publishers_;
  publisher_raw_.store(session.get(), std::memory_order_release);
  publisher_ = std::move(session);
  media_ = std::move(media);
}

bool Device::update_media(const MediaSession* session, PublisherMedia media) {
  std::lock_guard lock(mutex_);
  if (publisher_.get() != session || session == nullptr) return false;
  stop_viewers_with_other_codecs(media);
  media_ = std::move(media);
  return true;
}

void Device::stop_viewers_with_other_codecs(const PublisherMedia& media) const {
  for (const auto& viewer : *viewers()) {
    if (!viewer->offered_.same_codecs(media)) viewer->started = false;
  }
}

bool Device::clear_publisher(const MediaSession* session) {
  std::lock_guard lock(mutex_);
  if (publisher_.get() != session || session == nullptr) return false;
  publisher_raw_.store(nullptr, std::memory_order_release);
  publisher_.reset();
  return true;
}

std::size_t Device::viewer_count() const {
  return viewers()->size();
}

PublisherMedia Device::add_viewer(std::shared_ptr<ViewerLink> viewer) {
  std::lock_guard lock(mutex_);
  viewer->told_publisher_ = publisher_ ? publishers_ : 0;
  viewer->offered_ = media_.value_or(PublisherMedia{});
  viewer->use_payload_types(viewer->offered_);
  PublisherMedia media = viewer->offered_;
  auto next = std::make_shared<ViewerList>(*viewers());
  next->push_back(std::move(viewer));
  publish_viewers(std::move(next));
  return media;
}

void Device::start_viewer(ViewerLink& viewer) {
  std::lock_guard lock(mutex_);
  viewer.started = !media_ || viewer.offered_.same_codecs(*media_);
}

DeviceNews Device::take_news() {
  std::lock_guard lock(mutex_);
  const std::uint64_t now = publisher_ ? publishers_ : 0;
  DeviceNews news;
  if (media_) news.media = *media_;
  for (const auto& viewer : *viewers()) {
    ViewerNews item{viewer};
    item.publisher_left = viewer->told_publisher_ != 0 && viewer->told_publisher_ != now;
    if (now != 0) {
      if (!viewer->offered_.same_codecs(news.media)) {
        item.joined = ViewerNews::Joined::kNewOffer;
        viewer->offered_ = news.media;
        viewer->started = false;
        viewer->use_payload_types(news.media);
      } else if (viewer->told_publisher_ != now) {
        item.joined = ViewerNews::Joined::kSameCodecs;
      }
    }
    viewer->told_publisher_ = now;
    if (item.publisher_left || item.joined != ViewerNews::Joined::kNone) {
      news.viewers.push_back(std::move(item));
    }
  }
  return news;
}

std::shared_ptr<ViewerLink> Device::remove_viewer(const MediaSession* session) {
  std::lock_guard lock(mutex_);
  auto current = viewers();
  auto next = std::make_shared<ViewerList>();
  next->reserve(current->size());
  std::shared_ptr<ViewerLink> removed;
  for (const auto& viewer : *current) {
    if (&viewer->session() == session) {
      removed = viewer;
    } else {
      next->push_back(viewer);
    }
  }
  if (removed) publish_viewers(std::move(next));
  return removed;
}

std::shared_ptr<ViewerLink> Device::find_viewer(const MediaSession* session) const {
  for (const auto& viewer : *viewers()) {
    if (&viewer->session() == session) return viewer;
  }
  return nullptr;
}

void Device::publish_viewers(std::shared_ptr<const ViewerList> next) {
  std::shared_ptr<const ViewerList> previous;
  {
    std::lock_guard lock(snapshot_mutex_);
    previous = std::move(viewers_);
    viewers_ = std::move(next);
  }
  // previous (and any viewer only it held) is released here, outside the snapshot lock.
}

bool Device::empty() const {
  std::lock_guard lock(mutex_);
  return publisher_ == nullptr && viewers()->empty();
}

}  // namespace jmedia
