// What a device's producer sends, as negotiated: consumers' offers are built from it.
#pragma once

#include <string>

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
};

}  // namespace jmedia
