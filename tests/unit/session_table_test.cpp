#include <gtest/gtest.h>

#include "../../plugin/session_table.h"
#include "fake_host.h"

namespace jmedia {
namespace {

using testing::FakeHost;

TEST(SessionTable, AddFindRemove) {
  FakeHost host;
  SessionTable table(4);
  janus_plugin_session* handle = host.new_handle();
  ASSERT_TRUE(table.reserve_slot(10));
  auto session = std::make_shared<MediaSession>(host, handle, "abc");
  ASSERT_TRUE(table.add(session));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find(handle), session);
  EXPECT_EQ(table.find(std::string("abc")), session);
  EXPECT_EQ(table.remove(handle), session);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(handle), nullptr);
  EXPECT_EQ(table.find(std::string("abc")), nullptr);
  EXPECT_EQ(table.remove(handle), nullptr);
}

TEST(SessionTable, SlotsEnforceTheLimit) {
  SessionTable table(2);
  EXPECT_TRUE(table.reserve_slot(2));
  EXPECT_TRUE(table.reserve_slot(2));
  EXPECT_FALSE(table.reserve_slot(2));
  table.release_slot();
  EXPECT_TRUE(table.reserve_slot(2));
}

TEST(SessionTable, DuplicateIdOrHandleIsRefused) {
  FakeHost host;
  SessionTable table(1);
  janus_plugin_session* a = host.new_handle();
  janus_plugin_session* b = host.new_handle();
  auto first = std::make_shared<MediaSession>(host, a, "same");
  ASSERT_TRUE(table.add(first));
  auto same_id = std::make_shared<MediaSession>(host, b, "same");
  EXPECT_FALSE(table.add(same_id));
  same_id->disown_handle();
  auto same_handle = std::make_shared<MediaSession>(host, a, "other");
  EXPECT_FALSE(table.add(same_handle));
  same_handle->disown_handle();
  EXPECT_EQ(table.find(std::string("same")), first);
  EXPECT_EQ(table.find(std::string("other")), nullptr);
}

TEST(SessionTable, SessionReleasesTheCoreReferenceWhenFreed) {
  FakeHost host;
  janus_plugin_session* handle = host.new_handle();
  {
    SessionTable table(8);
    ASSERT_TRUE(table.reserve_slot(1));
    ASSERT_TRUE(table.add(std::make_shared<MediaSession>(host, handle, "x")));
    EXPECT_EQ(host.references(handle), 1);
    auto all = table.remove_all();
    EXPECT_EQ(all.size(), 1u);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(host.references(handle), 1);
  }
  EXPECT_EQ(host.references(handle), 0);
}

}  // namespace
}  // namespace jmedia
