// common/log: a message the sink's level excludes is neither formatted nor handed to the sink
// (log_verbose runs on Janus's threads, media and request paths among them).
#include "../../common/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace jmedia {
namespace {

// "%n" stores how many characters were formatted so far: it shows whether vsnprintf ran.
TEST(Log, TheDefaultSinkFormatsNoVerboseMessage) {
  set_log_sink(nullptr);  // stderr: warnings and errors only
  int formatted = -1;
  log_verbose("abc%n", &formatted);
  EXPECT_EQ(formatted, -1) << "log_verbose was formatted, then dropped by the sink";
  log_warn("abc%n", &formatted);
  EXPECT_EQ(formatted, 3) << "the probe itself works";
}

std::atomic<int> sink_calls{0};
std::atomic<LogLevel> current_level{LogLevel::kInfo};
std::string last_message;  // written by the test's own thread only

void counting_sink(LogLevel /*level*/, const char* message) {
  ++sink_calls;
  last_message = message;
}
LogLevel shown_level() {
  return current_level.load();
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_calls = 0;
    current_level = LogLevel::kInfo;
    set_log_sink(&counting_sink, &shown_level);
  }
  void TearDown() override { set_log_sink(nullptr); }
};

TEST_F(LogTest, AboveTheSinksLevelNothingIsFormattedOrPassedOn) {
  int formatted = -1;
  log_verbose("abc%n", &formatted);
  EXPECT_EQ(formatted, -1);
  EXPECT_EQ(sink_calls.load(), 0);
  log_info("session %s%n", "s1", &formatted);
  EXPECT_EQ(formatted, 10);
  EXPECT_EQ(sink_calls.load(), 1);
  EXPECT_EQ(last_message, "session s1");
}

TEST_F(LogTest, TheLevelIsAskedOnEveryMessage) {
  log_verbose("hidden");
  current_level = LogLevel::kVerbose;  // as Janus's set_log_level does while it runs
  log_verbose("shown %d", 5);
  EXPECT_EQ(sink_calls.load(), 1);
  EXPECT_EQ(last_message, "shown 5");
  current_level = LogLevel::kError;
  log_warn("hidden");
  log_error("error");
  EXPECT_EQ(sink_calls.load(), 2);
}

TEST_F(LogTest, ASinkWithoutALevelSourceGetsEveryMessage) {
  set_log_sink(&counting_sink);
  log_verbose("one");
  log(LogLevel::kHuge, "two");
  EXPECT_EQ(sink_calls.load(), 2);
  EXPECT_EQ(last_message, "two");
}

}  // namespace
}  // namespace jmedia
