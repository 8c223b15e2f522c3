#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "../../transport/process_metrics.h"

namespace jmedia::transport {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(ProcessMetrics, ParsesStatWithAnAwkwardCommandName) {
  // comm may contain spaces and parentheses: fields count from the last ')'.
  const char* stat =
      "4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 75 0 0 20 0 3 0 "
      "123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
  auto times = parse_stat(stat);
  ASSERT_TRUE(times);
  EXPECT_EQ(times->user_ticks, 250);
  EXPECT_EQ(times->system_ticks, 75);
  EXPECT_EQ(times->start_ticks, 123456);
  EXPECT_FALSE(parse_stat("4242 (x) S 1 2 3"));
  EXPECT_FALSE(parse_stat("garbage"));
}

TEST(ProcessMetrics, ParsesStatus) {
  const char* status =
      "Name:\tjanus\nVmPeak:\t  300000 kB\nVmSize:\t  204800 kB\nVmRSS:\t   10240 kB\n"
      "Threads:\t17\n";
  EXPECT_EQ(parse_status_field(status, "VmSize"), 204800.0 * 1024);
  EXPECT_EQ(parse_status_field(status, "VmRSS"), 10240.0 * 1024);
  EXPECT_EQ(parse_status_field(status, "Threads"), 17);
  EXPECT_FALSE(parse_status_field(status, "VmSwap"));
  EXPECT_FALSE(parse_status_field(status, "Vm"));  // a prefix of a key is not the key
  EXPECT_FALSE(parse_status_field("Threads:\tmany\n", "Threads"));
}

TEST(ProcessMetrics, ParsesLimitsAndBootTime) {
  const char* limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 1048576              files     \n";
  EXPECT_EQ(parse_max_open_files(limits), 1024);
  EXPECT_EQ(
      parse_max_open_files("Max open files            unlimited            unlimited   files\n"),
      INFINITY);
  EXPECT_FALSE(parse_max_open_files("Max processes 10 10 processes\n"));
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
}

TEST(ProcessMetrics, ThisProcessHasSensibleValues) {
  ProcessStats stats = read_process_stats();
  ASSERT_TRUE(stats.resident_memory_bytes && stats.virtual_memory_bytes && stats.cpu_seconds &&
              stats.open_fds && stats.max_fds && stats.start_time_seconds && stats.threads);
  EXPECT_GT(*stats.resident_memory_bytes, 1 << 20);
  EXPECT_GE(*stats.virtual_memory_bytes, *stats.resident_memory_bytes);
  EXPECT_GE(*stats.cpu_seconds, 0);
  EXPECT_LT(*stats.cpu_seconds, 24 * 3600);
  EXPECT_GE(*stats.open_fds, 3);  // stdin, stdout, stderr
  EXPECT_LT(*stats.open_fds, *stats.max_fds);
  EXPECT_GE(*stats.threads, 1);
  // This test binary started moments ago (allowing for a slow machine).
  EXPECT_LE(*stats.start_time_seconds, now_seconds() + 1);
  EXPECT_GT(*stats.start_time_seconds, now_seconds() - 600);
}

TEST(ProcessMetrics, CountsFileDescriptorsAndThreadsAsTheyChange) {
  const ProcessStats before = read_process_stats();
  int fds[3];
  for (int& fd : fds) fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const ProcessStats opened = read_process_stats();
  for (int fd : fds) close(fd);
  EXPECT_EQ(*opened.open_fds, *before.open_fds + 3);

  // A sanitizer runtime may start a helper thread with the first thread: start one first.
  std::thread([] {}).join();
  const ProcessStats settled = read_process_stats();
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::thread extra([&] {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return release; });
  });
  const ProcessStats threaded = read_process_stats();
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_one();
  extra.join();
  EXPECT_EQ(*threaded.threads, *settled.threads + 1);
  EXPECT_EQ(*read_process_stats().threads, *settled.threads) << "the thread is gone once joined";
}

TEST(ProcessMetrics, CollectorExportsTheStandardFamilies) {
  ProcessCollector collector;
  const auto families = collector.Collect();
  std::map<std::string, prometheus::MetricType> types;
  for (const auto& family : families) {
    ASSERT_EQ(family.metric.size(), 1u) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    types[family.name] = family.type;
  }
  using prometheus::MetricType;
  EXPECT_EQ(types, (std::map<std::string, MetricType>{
                       {"process_cpu_seconds_total", MetricType::Counter},
                       {"process_open_fds", MetricType::Gauge},
                       {"process_max_fds", MetricType::Gauge},
                       {"process_virtual_memory_bytes", MetricType::Gauge},
                       {"process_resident_memory_bytes", MetricType::Gauge},
                       {"process_start_time_seconds", MetricType::Gauge},
                       {"process_threads", MetricType::Gauge},
                   }));
}

TEST(ProcessMetrics, AMissingProcFsExportsNothingRatherThanZeros) {
  ProcessCollector collector("/nonexistent-proc");
  EXPECT_TRUE(collector.Collect().empty());
}

}  // namespace
}  // namespace jmedia::transport
