#include <gtest/gtest.h>

#include "../../plugin/session_table.h"
#include "fake_host.h"

#include <algorithm>
#include <cstdio>

namespace jmedia {
namespace {

using testing::FakeHost;

TEST(SessionTable, AddFindRemove) {
  FakeHost host;
  SessionTable table(4);
  janus_plugin_session* handle = host.new_handle();
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
  EXPECT_TRUE(table.reserve_active(2));
  EXPECT_TRUE(table.reserve_active(2));
  EXPECT_FALSE(table.reserve_active(2));
  table.release_active();
  EXPECT_TRUE(table.reserve_active(2));
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
    ASSERT_TRUE(table.add(std::make_shared<MediaSession>(host, handle, "x")));
    EXPECT_EQ(host.references(handle), 1);
    auto all = table.remove_all();
    EXPECT_EQ(all.size(), 1u);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(host.references(handle), 1);
  }
  EXPECT_EQ(host.references(handle), 0);
}

TEST(SessionTable, PagesInIdOrderWithAStableCursor) {
  FakeHost host;
  SessionTable table(7);
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", (i * 7919) % 100003);
    ids.push_back(id);
    ASSERT_TRUE(table.add(std::make_shared<MediaSession>(host, host.new_handle(), id)));
  }
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 100; ++pages) {
    auto [page, more] = table.page(cursor, 40, std::nullopt);
    for (const auto& session : page) seen.push_back(session->id());
    if (!more) break;
    ASSERT_FALSE(page.empty());
    cursor = page.back()->id();
  }
  EXPECT_EQ(seen, ids);
}

TEST(SessionTable, RoleIndexFiltersAndFollowsChanges) {
  FakeHost host;
  SessionTable table(4);
  std::vector<std::shared_ptr<MediaSession>> sessions;
  for (int i = 0; i < 10; ++i) {
    auto session = std::make_shared<MediaSession>(host, host.new_handle(), "s" + std::to_string(i));
    ASSERT_TRUE(table.add(session));
    sessions.push_back(session);
  }
  for (int i = 0; i < 10; i += 2) table.index_role(sessions[i], Role::kNone, Role::kViewer);
  auto [viewers, more] = table.page("", 100, Role::kViewer);
  EXPECT_EQ(viewers.size(), 5u);
  EXPECT_FALSE(more);
  table.index_role(sessions[0], Role::kViewer, Role::kNone);
  table.remove(sessions[2]->handle());
  auto [after, more2] = table.page("", 100, Role::kViewer);
  EXPECT_EQ(after.size(), 3u);
  auto [limited, more3] = table.page("", 2, Role::kViewer);
  EXPECT_EQ(limited.size(), 2u);
  EXPECT_TRUE(more3);
}

}  // namespace
}  // namespace jmedia
