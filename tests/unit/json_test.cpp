// common/json.h's dump(): byte for byte what jansson's json_dumps(JSON_COMPACT |
// JSON_ENCODE_ANY) writes, for every kind of value a reply can hold (the REST API sends it as
// it is; jansson's own serialiser cost a third of a list page's CPU).
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "../../common/json.h"

namespace jmedia {
namespace {

std::string jansson(const json_t* value) {
  char* text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  std::string out = text != nullptr ? text : "(null)";
  std::free(text);
  return out;
}

JsonPtr parse(const char* text) {
  json_error_t error;
  return adopt(json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error));
}

TEST(JsonDump, IsJanssonsCompactOutput) {
  const std::vector<const char*> documents = {
      R"({})",
      R"([])",
      R"({"media":"list","sessions":[{"media_session":"5f0c2a9d41e7b366","device_id":null,"role":"none","state":"idle"}],"next_cursor":null})",
      R"({"b":1,"a":2,"c":{"z":[1,2,[3,[]]],"y":{}}})",
      R"([true,false,null,0,-1,9223372036854775807,-9223372036854775808])",
      R"(["quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f"])",
      R"(["\u0000 \u0001 \u001f \u007f \u0080"])",
      R"(["caf\u00e9 \u4e2d\u6587 \ud83d\ude00 \u2028"])",
      R"({"key with \"quotes\"":"v","\u00e9":"\u00e9","":""})",
      R"([0.5,1.0,-2.25,1e300,3.141592653589793,1e-7,100000000000000000000.0])",
      R"("just a string")",
      R"(42)",
      R"(null)",
  };
  for (const char* document : documents) {
    JsonPtr value = parse(document);
    ASSERT_NE(value, nullptr) << document;
    EXPECT_EQ(dump(value.get()), jansson(value.get())) << document;
  }
}

TEST(JsonDump, KeepsInsertionOrderAndNulsInStrings) {
  JsonPtr object = adopt(json_object());
  set(object.get(), "zeta", "1");
  set(object.get(), "alpha", std::string_view("a\0b", 3));
  json_object_setn_new(object.get(), "k\0ey", 4, json_integer(7));
  set_unchecked(object.get(), "x", std::int64_t{-3});
  EXPECT_EQ(dump(object.get()), jansson(object.get()));
  EXPECT_EQ(dump(object.get()).substr(0, 8), R"({"zeta":)");
}

TEST(JsonDump, NullIsNull) {
  EXPECT_EQ(dump(nullptr), "null");
}

TEST(JsonDump, ALargeReplyWhole) {
  JsonPtr array = adopt(json_array());
  for (int i = 0; i < 1000; ++i) {
    JsonPtr entry = adopt(json_object());
    set(entry.get(), "media_session", std::to_string(i));
    set(entry.get(), "packets_in", std::int64_t{i} * 1000003);
    set(entry.get(), "audio", i % 2 == 0);
    json_array_append_new(array.get(), entry.release());
  }
  EXPECT_EQ(dump(array.get()), jansson(array.get()));
}

}  // namespace
}  // namespace jmedia
