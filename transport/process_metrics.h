// Metrics of the janus process itself, read from /proc at scrape time: memory, CPU time, file
// descriptors, start time, threads. Names and meanings follow the Prometheus client libraries'
// standard process_* metrics. Parsing works on file contents, so it is tested on fixed text.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jmedia::transport {

// What one reading found; a value that could not be read is left empty (and not exported).
struct ProcessStats {
  std::optional<double> resident_memory_bytes;
  std::optional<double> virtual_memory_bytes;
  std::optional<double> cpu_seconds;
  std::optional<double> open_fds;
  std::optional<double> max_fds;  // +Inf when unlimited
  std::optional<double> start_time_seconds;
  std::optional<double> threads;
};

// From /proc/<pid>/stat: fields 14-15 (utime, stime) and 22 (starttime), in clock ticks.
struct StatTimes {
  double user_ticks = 0;
  double system_ticks = 0;
  double start_ticks = 0;  // since boot
};
std::optional<StatTimes> parse_stat(std::string_view stat);
// A "Key:  <number> [kB]" line of /proc/<pid>/status; kB values are returned in bytes.
std::optional<double> parse_status_field(std::string_view status, std::string_view key);
// The soft "Max open files" limit of /proc/<pid>/limits (+Inf for "unlimited").
std::optional<double> parse_max_open_files(std::string_view limits);
// "btime" of /proc/stat: boot time in seconds since the epoch.
std::optional<double> parse_boot_time(std::string_view proc_stat);

// Reads <proc_root>/self/{stat,status,fd,limits} and <proc_root>/stat.
ProcessStats read_process_stats(const std::string& proc_root = "/proc");

// The process_* families, computed on every Collect() (one /proc reading per scrape).
class ProcessCollector final : public prometheus::Collectable {
 public:
  explicit ProcessCollector(std::string proc_root = "/proc") : proc_root_(std::move(proc_root)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string proc_root_;
};

// The families for one reading (empty values are left out).
std::vector<prometheus::MetricFamily> process_families(const ProcessStats& stats);

}  // namespace jmedia::transport
