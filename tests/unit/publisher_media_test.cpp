// PublisherMedia's JSON form, which another node's relay_accept and publisher_joined carry and
// which ends up in this node's viewer offers: round trips, and what is refused.
#include <gtest/gtest.h>

#include <string>

#include "../../plugin/publisher_media.h"

namespace jmedia {
namespace {

PublisherMedia camera() {
  PublisherMedia media;
  media.audio_codec = "opus";
  media.audio_payload_type = 111;
  media.video_codec = "vp8";
  media.video_payload_type = 96;
  media.video_fmtp = "max-fs=12288;max-fr=60";
  media.data = true;
  return media;
}

std::optional<PublisherMedia> parse(const std::string& json) {
  std::string why;
  auto media = media_from_json(json, why);
  if (!media) {
    EXPECT_FALSE(why.empty()) << json;
  }
  return media;
}

TEST(PublisherMediaJson, RoundTrips) {
  const PublisherMedia full = camera();
  EXPECT_EQ(parse(media_to_json(full)), full);
  PublisherMedia video_only;
  video_only.video_codec = "h264";
  video_only.video_payload_type = 102;
  EXPECT_EQ(parse(media_to_json(video_only)), video_only);
  PublisherMedia audio_only;
  audio_only.audio_codec = "opus";
  audio_only.audio_payload_type = 111;
  EXPECT_EQ(parse(media_to_json(audio_only)), audio_only);
  EXPECT_EQ(media_to_json(audio_only), R"({"audio_codec":"opus","audio_pt":111,"data":false})");
}

TEST(PublisherMediaJson, RefusesWhatCouldNotBeOffered) {
  for (const char* bad : {
           R"([])",
           R"(not json)",
           R"({})",                      // nothing to receive
           R"({"data":false})",          // idem
           R"({"audio_codec":"opus"})",  // no payload type
           R"({"audio_pt":111})",        // no codec
           R"({"audio_codec":"opus","audio_pt":128})",
           R"({"audio_codec":"opus","audio_pt":-1})",
           R"({"audio_codec":"","audio_pt":111})",
           R"({"audio_codec":"op us","audio_pt":111})",
           R"({"audio_codec":"opus\r\na=x","audio_pt":111})",
           R"({"video_codec":"vp8","video_pt":96,"video_fmtp":"a\r\nm=audio"})",
           R"({"video_codec":"vp8","video_pt":96,"video_fmtp":7})",
           R"({"audio_codec":"opus","audio_pt":111,"video_fmtp":"x=1"})",  // fmtp without video
           R"({"audio_codec":"opus","audio_pt":111,"data":"yes"})",
           R"({"audio_codec":"opus","audio_pt":111,"audio_pt":112})",
       }) {
    EXPECT_FALSE(parse(bad).has_value()) << bad;
  }
  const std::string long_codec =
      R"({"audio_codec":")" + std::string(33, 'a') + R"(","audio_pt":1})";
  EXPECT_FALSE(parse(long_codec).has_value());
  const std::string long_fmtp =
      R"({"video_codec":"vp8","video_pt":96,"video_fmtp":")" + std::string(513, 'x') + R"("})";
  EXPECT_FALSE(parse(long_fmtp).has_value());
  const std::string fmtp_512 =
      R"({"video_codec":"vp8","video_pt":96,"video_fmtp":")" + std::string(512, 'x') + R"("})";
  EXPECT_TRUE(parse(fmtp_512).has_value());
}

}  // namespace
}  // namespace jmedia
