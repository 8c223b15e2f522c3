// What a device's producer sends, as negotiated: consumers' offers are built from it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jmedia {

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
  bool operator==(const PublisherMedia&) const = default;
};

// The media summary another node's relay carries (relay_accept, publisher_joined; see
// cluster/node_messages.h): {"audio_codec","audio_pt","video_codec","video_pt","video_fmtp",
// "data"}, codecs and fmtp absent when there are none.
std::string media_to_json(const PublisherMedia& media);
// Checked as anything from outside the process, since it ends up in viewers' SDP offers:
// codec names of 1-32 letters, digits or '-', payload types 0-127 for the codecs present,
// an fmtp of at most 512 printable ASCII characters (no line break: it goes into an SDP line).
// nullopt with why set otherwise.
std::optional<PublisherMedia> media_from_json(std::string_view json, std::string& why);

}  // namespace jmedia
