// A device: at most one publisher and any number of viewers, keyed by device_id.
// Membership changes (publish, watch, leave) lock the device. The media path reads the
// viewer list as a copy-on-write snapshot: it holds the device's snapshot lock only to copy
// one shared_ptr, while writers build the next list outside it and swap it in, so viewers
// joining or leaving never stall forwarding, and devices never contend with each other.
// (Not std::atomic<std::shared_ptr>: GCC 12's lock-bit implementation of it is invisible to
// ThreadSanitizer, which then reports races that are not there.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rtp_rewriter.h"

namespace jmedia {

class MediaSession;

// What a publisher sends, as negotiated: viewer offers are built from it.
struct PublisherMedia {
  std::string audio_codec;  // "" when the publisher sends no audio
  int audio_payload_type = -1;
  std::string video_codec;  // "" when no video
  int video_payload_type = -1;
  std::string video_fmtp;
  bool data = false;

  bool same_codecs(const PublisherMedia& other) const {
    return audio_codec == other.audio_codec && video_codec == other.video_codec &&
           video_fmtp == other.video_fmtp && data == other.data;
  }
};

// One viewer's forwarding state, shared by the device's viewer list.
class ViewerLink {
 public:
  explicit ViewerLink(std::shared_ptr<MediaSession> session);
  // The payload types this viewer negotiated: those of the media its offer was built from.
  // Relayed packets are rewritten to them, so a publisher that numbers the same codecs
  // differently needs no renegotiation.
  void use_payload_types(const PublisherMedia& media);
  MediaSession& session() const { return *session_; }
  const std::shared_ptr<MediaSession>& session_ptr() const { return session_; }

  // The viewer answered and may receive media.
  std::atomic<bool> started{false};
  // Held while a packet is rewritten and relayed: only two publishers overlapping during a
  // hand-over ever contend for it.
  std::mutex relay_mutex;
  RtpRewriter audio;
  RtpRewriter video;

 private:
  friend class Device;
  std::shared_ptr<MediaSession> session_;
  // Device::mutex_ guards both. The publisher this viewer was last told of (Device's count
  // of publishers; 0: none), and the media its current offer was built from.
  std::uint64_t told_publisher_ = 0;
  PublisherMedia offered_;
};

using ViewerList = std::vector<std::shared_ptr<ViewerLink>>;

// What one viewer has not been told yet about its device's publisher (Device::take_news).
struct ViewerNews {
  enum class Joined { kNone, kSameCodecs, kNewOffer };
  std::shared_ptr<ViewerLink> viewer;
  bool publisher_left = false;    // the publisher it knew has gone: first
  Joined joined = Joined::kNone;  // then the one there now: same codecs, or an offer to answer
};
struct DeviceNews {
  PublisherMedia media;  // the publisher's now; what kNewOffer offers
  std::vector<ViewerNews> viewers;
};

class Device {
 public:
  explicit Device(std::string id) : id_(std::move(id)) {}
  const std::string& id() const { return id_; }
  // Its per-device metric series (PluginMetrics::device_slot), -1 = "other".
  int series_slot() const { return series_slot_.load(std::memory_order_relaxed); }
  void set_series_slot(int slot) { series_slot_.store(slot, std::memory_order_relaxed); }

  // Media path. viewers() holds the snapshot lock just to copy the list's pointer (never
  // while the list is built); is_publisher is one atomic load.
  std::shared_ptr<const ViewerList> viewers() const {
    std::lock_guard lock(snapshot_mutex_);
    return viewers_;
  }
  bool is_publisher(const MediaSession* session) const {
    return publisher_raw_.load(std::memory_order_acquire) == session;
  }

  // Membership: the caller holds the registry's shard lock (see DeviceRegistry).
  bool has_publisher() const;
  std::shared_ptr<MediaSession> publisher() const;
  // The media of the publisher, or of the last one while there is none.
  std::optional<PublisherMedia> media() const;
  // A new publisher. Viewers whose offer has other codecs get no more media until they
  // answered the offer take_news gives them.
  void set_publisher(std::shared_ptr<MediaSession> session, PublisherMedia media);
  // The publisher renegotiated (false, and nothing changes, when session is not the
  // publisher); viewers whose offer has other codecs stop as in set_publisher.
  bool update_media(const MediaSession* session, PublisherMedia media);
  // Clears the publisher if it is session; true when it was.
  bool clear_publisher(const MediaSession* session);
  std::size_t viewer_count() const;
  // Adds a viewer, told of the publisher there now; returns the media to offer it.
  PublisherMedia add_viewer(std::shared_ptr<ViewerLink> viewer);
  // The viewer answered: media flows to it, unless the publisher's codecs changed since its
  // offer (then this answered an older one; the new offer is on its way).
  void start_viewer(ViewerLink& viewer);
  std::shared_ptr<ViewerLink> remove_viewer(const MediaSession* session);
  std::shared_ptr<ViewerLink> find_viewer(const MediaSession* session) const;
  bool empty() const;

  // What the viewers have not been told yet about the publisher's changes since they were
  // last told, coalesced (the publisher they knew left; the one there now, its codecs the
  // same as their offer's or not), now counted as told. A viewer getting a new offer stops
  // receiving until it answers, and its payload types are those of the new offer.
  DeviceNews take_news();

 private:
  const std::string id_;
  std::atomic<int> series_slot_{-1};
  // Lock order: a thread holding a lock of this list takes only locks further down it.
  //   MediaSession::transition_mutex_
  //   -> a ShardedMap shard lock (DeviceRegistry's or SessionTable's)
  //   -> Device::mutex_
  //   -> Device::snapshot_mutex_, ViewerLink::relay_mutex or DeviceNotifier::mutex_
  //      (leaves: none of ours is taken inside them)
  mutable std::mutex mutex_;
  std::shared_ptr<MediaSession> publisher_;
  std::uint64_t publishers_ = 0;  // publishers so far: the number of the current one
  std::optional<PublisherMedia> media_;
  std::atomic<const MediaSession*> publisher_raw_{nullptr};
  mutable std::mutex snapshot_mutex_;  // guards the viewers_ pointer only
  std::shared_ptr<const ViewerList> viewers_{std::make_shared<const ViewerList>()};
  void publish_viewers(std::shared_ptr<const ViewerList> next);
  void stop_viewers_with_other_codecs(const PublisherMedia& media) const;  // mutex_ held
};

}  // namespace jmedia
