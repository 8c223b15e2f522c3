// The exception barrier of common/abi_guard.h around callbacks and the threads we start.
#include <gtest/gtest.h>

#include <stdexcept>

#include "../../common/abi_guard.h"
#include "log_capture.h"

namespace jmedia {
namespace {

using testing::LogCapture;

TEST(AbiGuard, GuardedReturnsTheFallbackAndLogs) {
  LogCapture log;
  const int value = guarded("callback", -1, []() -> int { throw std::runtime_error("bad"); });
  EXPECT_EQ(value, -1);
  EXPECT_TRUE(log.contains("callback: unexpected exception: bad"));
  EXPECT_EQ(guarded("callback", -1, [] { return 7; }), 7);
}

// Without the barrier, a throw out of a thread's body is std::terminate: the whole gateway.
TEST(AbiGuard, AGuardedThreadLogsWhatItsBodyThrowsAndEnds) {
  LogCapture log;
  std::thread thread =
      guarded_thread("test thread", "jm-test", [] { throw std::runtime_error("boom"); });
  thread.join();
  EXPECT_TRUE(log.contains("test thread: unexpected exception: boom"));
  thread = guarded_thread("test thread", "jm-test", [] { throw 42; });
  thread.join();
  EXPECT_TRUE(log.contains("test thread: unexpected non-standard exception"));
}

TEST(AbiGuard, AGuardedThreadCarriesItsName) {
  char name[16] = {};
  std::thread thread = guarded_thread("test thread", "jm-named", [&name] {
    pthread_getname_np(pthread_self(), name, sizeof name);
  });
  thread.join();
  EXPECT_STREQ(name, "jm-named");
}

}  // namespace
}  // namespace jmedia
