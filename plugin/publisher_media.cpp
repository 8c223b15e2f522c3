#include "publisher_media.h"

#include <algorithm>
#include <cstdint>

#include "../common/json.h"

namespace jmedia {
namespace {

constexpr std::size_t kMaxCodecBytes = 32;
constexpr std::size_t kMaxFmtpBytes = 512;

bool valid_codec(std::string_view codec) {
  return !codec.empty() && codec.size() <= kMaxCodecBytes &&
         std::all_of(codec.begin(), codec.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-';
         });
}

bool valid_fmtp(std::string_view fmtp) {
  return fmtp.size() <= kMaxFmtpBytes &&
         std::all_of(fmtp.begin(), fmtp.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// One kind's codec and payload type; true when absent (both) or valid.
bool read_kind(const json_t* object, const char* codec_key, const char* pt_key, std::string& codec,
               int& payload_type, std::string& why) {
  const json_t* codec_value = member(object, codec_key);
  const json_t* pt_value = member(object, pt_key);
  if (codec_value == nullptr && pt_value == nullptr) return true;
  const auto name = string_member(object, codec_key);
  const auto pt = integer_member(object, pt_key);
  if (!name || !valid_codec(*name)) {
    why = std::string(codec_key) + " is not a codec name";
    return false;
  }
  if (!pt || *pt < 0 || *pt > 127) {
    why = std::string(pt_key) + " is not a payload type (0-127)";
    return false;
  }
  codec = std::string(*name);
  payload_type = static_cast<int>(*pt);
  return true;
}

}  // namespace

std::string media_to_json(const PublisherMedia& media) {
  JsonPtr object = adopt(json_object());
  if (!media.audio_codec.empty()) {
    set(object.get(), "audio_codec", media.audio_codec);
    set(object.get(), "audio_pt", media.audio_payload_type);
  }
  if (!media.video_codec.empty()) {
    set(object.get(), "video_codec", media.video_codec);
    set(object.get(), "video_pt", media.video_payload_type);
    if (!media.video_fmtp.empty()) set(object.get(), "video_fmtp", media.video_fmtp);
  }
  set(object.get(), "data", media.data);
  return dump(object.get());
}

std::optional<PublisherMedia> media_from_json(std::string_view json, std::string& why) {
  JsonPtr object = adopt(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, nullptr));
  if (!json_is_object(object.get())) {
    why = "media is not a JSON object";
    return std::nullopt;
  }
  PublisherMedia media;
  if (!read_kind(object.get(), "audio_codec", "audio_pt", media.audio_codec,
                 media.audio_payload_type, why) ||
      !read_kind(object.get(), "video_codec", "video_pt", media.video_codec,
                 media.video_payload_type, why)) {
    return std::nullopt;
  }
  if (const json_t* fmtp = member(object.get(), "video_fmtp")) {
    const auto text = string_member(object.get(), "video_fmtp");
    if (json_is_null(fmtp) || !text || !valid_fmtp(*text) || media.video_codec.empty()) {
      why = "video_fmtp is not an fmtp line of a video codec";
      return std::nullopt;
    }
    media.video_fmtp = std::string(*text);
  }
  if (const json_t* data = member(object.get(), "data")) {
    if (!json_is_boolean(data)) {
      why = "data is not a boolean";
      return std::nullopt;
    }
    media.data = json_is_true(data);
  }
  if (media.audio_codec.empty() && media.video_codec.empty() && !media.data) {
    why = "media has no audio, no video and no data";
    return std::nullopt;
  }
  return media;
}

}  // namespace jmedia
