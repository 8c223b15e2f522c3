// The pure readers of event_shapes.h, on the shapes Janus 1.1.2 sends.
#include <gtest/gtest.h>

#include "../../common/json.h"
#include "../../events/event_shapes.h"

namespace jmedia::events {
namespace {

JsonPtr parse(const char* text) {
  json_error_t error;
  JsonPtr value = adopt(json_loads(text, 0, &error));
  EXPECT_NE(value, nullptr) << error.text << " in " << text;
  return value;
}

TEST(EventShapes, CandidateTypeFromSdpAndTrickleForms) {
  // As captured (the core strips "candidate:" before the event), and as trickled.
  EXPECT_EQ(candidate_type("16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 53190 "
                           "typ host"),
            "host");
  EXPECT_EQ(candidate_type("candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx "
                           "raddr 10.0.0.2 rport 46154 generation 0"),
            "srflx");
  EXPECT_EQ(candidate_type("3 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active"), "host");
  EXPECT_EQ(candidate_type("1 1 udp 41885439 198.51.100.9 3478 typ relay raddr 0.0.0.0 rport 0"),
            "relay");
}

TEST(EventShapes, CandidateTypeMissingOrTruncated) {
  EXPECT_FALSE(candidate_type(""));
  EXPECT_FALSE(candidate_type("1 1 udp 2130706431 127.0.0.1 53190"));
  EXPECT_FALSE(candidate_type("1 1 udp 2130706431 127.0.0.1 53190 typ"));
  EXPECT_FALSE(candidate_type("end-of-candidates"));
}

TEST(EventShapes, SelectedPairFromTheCandidatesObject) {
  JsonPtr body =
      parse(R"({"selected-pair":"127.0.0.1:44243 [host,udp] <-> 127.0.0.1:53190 [host,udp]",)"
            R"("candidates":{"local":{"address":"127.0.0.1","port":44243,"type":"host",)"
            R"("transport":"udp","family":4},"remote":{"address":"203.0.113.5","port":53190,)"
            R"("type":"srflx","transport":"udp","family":4}},"stream_id":1,"component_id":1})");
  auto pair = selected_pair(body.get());
  ASSERT_TRUE(pair);
  EXPECT_EQ(pair->local_type, "host");
  EXPECT_EQ(pair->remote_type, "srflx");  // the object wins over the text
  EXPECT_EQ(pair->transport, "udp");
}

TEST(EventShapes, SelectedPairFromTheTextAlone) {
  JsonPtr body =
      parse(R"({"selected-pair":"10.0.0.1:9 [relay,tcp] <-> [2001:db8::1]:5000 [prflx,tcp]",)"
            R"("stream_id":1,"component_id":1})");
  auto pair = selected_pair(body.get());
  ASSERT_TRUE(pair);
  EXPECT_EQ(pair->local_type, "relay");
  EXPECT_EQ(pair->remote_type, "prflx");
  EXPECT_EQ(pair->transport, "tcp");
}

TEST(EventShapes, SelectedPairWithoutTypes) {
  // libnice without TCP support: the core only has the foundations.
  JsonPtr foundations = parse(R"({"selected-pair":"1 <-> 16572de6","stream_id":1})");
  EXPECT_FALSE(selected_pair(foundations.get()));
  JsonPtr none = parse(R"({"stream_id":1})");
  EXPECT_FALSE(selected_pair(none.get()));
  EXPECT_FALSE(selected_pair(nullptr));
}

TEST(EventShapes, EveryCoreHangupReasonHasALabel) {
  EXPECT_EQ(kHangupReasons[hangup_reason_index("Janus API")].label, "janus_api");
  EXPECT_EQ(kHangupReasons[hangup_reason_index("Close PC")].label, "close_pc");
  EXPECT_EQ(kHangupReasons[hangup_reason_index("DTLS-SRTP stack error")].label,
            "dtls_srtp_stack_error");
  EXPECT_EQ(hangup_reason_index("janus api"), kHangupReasons.size());
  EXPECT_EQ(hangup_reason_index(""), kHangupReasons.size());
  for (const auto& reason : kHangupReasons) {
    for (char c : reason.label) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << reason.label;
  }
}

TEST(EventShapes, EventTypesAreSingleBits) {
  EXPECT_EQ(kTypeLabels[event_type_index(1)], "session");
  EXPECT_EQ(kTypeLabels[event_type_index(16)], "webrtc");
  EXPECT_EQ(kTypeLabels[event_type_index(256)], "core");
  EXPECT_EQ(event_type_index(0), kTypeLabels.size());
  EXPECT_EQ(event_type_index(3), kTypeLabels.size());
  EXPECT_EQ(event_type_index(512), kTypeLabels.size());
  EXPECT_EQ(event_type_index(-1), kTypeLabels.size());
}

TEST(EventShapes, MediaKindsAndSubstreams) {
  EXPECT_EQ(media_kind("audio"), 0u);
  EXPECT_EQ(media_kind("video"), 1u);
  EXPECT_EQ(media_kind("video-sim2"), 1u);
  EXPECT_FALSE(media_kind("data"));
  EXPECT_FALSE(media_kind(""));
  EXPECT_EQ(substream("video"), 0);
  EXPECT_EQ(substream("video-sim1"), 1);
  EXPECT_EQ(substream("video-sim2"), 2);
}

TEST(EventShapes, MembersTolerateMissingAndMistypedValues) {
  JsonPtr object = parse(R"({"name":"created","id":7,"big":12.5,"nested":{"a":1}})");
  EXPECT_EQ(string_member(object.get(), "name"), "created");
  EXPECT_FALSE(string_member(object.get(), "id"));
  EXPECT_FALSE(string_member(object.get(), "missing"));
  EXPECT_EQ(integer_member(object.get(), "id"), 7);
  EXPECT_FALSE(integer_member(object.get(), "big"));
  EXPECT_FALSE(integer_member(object.get(), "name"));
  EXPECT_FALSE(string_member(nullptr, "name"));
  JsonPtr array = parse("[1,2]");
  EXPECT_FALSE(integer_member(array.get(), "id"));
}

}  // namespace
}  // namespace jmedia::events
