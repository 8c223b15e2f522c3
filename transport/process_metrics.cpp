#include "process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>

#include "../common/metrics.h"

namespace jmedia::transport {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

std::optional<double> to_number(std::string_view token) {
  if (token.empty()) return std::nullopt;
  unsigned long long value = 0;
  auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (error != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return static_cast<double>(value);
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
  }
  return tokens;
}

// The line of text that starts with prefix (at a line start), without the prefix.
std::optional<std::string_view> line_after(std::string_view text, std::string_view prefix) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.substr(0, prefix.size()) == prefix) return line.substr(prefix.size());
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<double> count_open_fds(const std::string& fd_dir) {
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return std::nullopt;
  const std::string own = std::to_string(dirfd(dir));  // the descriptor we opened to count
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name == "." || name == ".." || name == own) continue;
    ++count;
  }
  closedir(dir);
  return count;
}

}  // namespace

std::optional<StatTimes> parse_stat(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. After it come fields 3 (state) onwards.
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  const auto fields = split_whitespace(stat.substr(close + 1));
  constexpr std::size_t kUtime = 14 - 3, kStime = 15 - 3, kStartTime = 22 - 3;
  if (fields.size() <= kStartTime) return std::nullopt;
  auto user = to_number(fields[kUtime]);
  auto system = to_number(fields[kStime]);
  auto start = to_number(fields[kStartTime]);
  if (!user || !system || !start) return std::nullopt;
  return StatTimes{*user, *system, *start};
}

std::optional<double> parse_status_field(std::string_view status, std::string_view key) {
  const std::string prefix = std::string(key) + ":";
  auto rest = line_after(status, prefix);
  if (!rest) return std::nullopt;
  const auto tokens = split_whitespace(*rest);
  if (tokens.empty()) return std::nullopt;
  auto value = to_number(tokens[0]);
  if (!value) return std::nullopt;
  if (tokens.size() >= 2 && tokens[1] == "kB") *value *= 1024;
  return value;
}

std::optional<double> parse_max_open_files(std::string_view limits) {
  // "Max open files            1024                 1048576              files"
  auto rest = line_after(limits, "Max open files");
  if (!rest) return std::nullopt;
  const auto tokens = split_whitespace(*rest);
  if (tokens.empty()) return std::nullopt;
  if (tokens[0] == "unlimited") return std::numeric_limits<double>::infinity();
  return to_number(tokens[0]);
}

std::optional<double> parse_boot_time(std::string_view proc_stat) {
  auto rest = line_after(proc_stat, "btime ");
  if (!rest) return std::nullopt;
  const auto tokens = split_whitespace(*rest);
  if (tokens.empty()) return std::nullopt;
  return to_number(tokens[0]);
}

ProcessStats read_process_stats(const std::string& proc_root) {
  ProcessStats stats;
  const std::string self = proc_root + "/self";
  if (auto status = read_file(self + "/status")) {
    stats.resident_memory_bytes = parse_status_field(*status, "VmRSS");
    stats.virtual_memory_bytes = parse_status_field(*status, "VmSize");
    stats.threads = parse_status_field(*status, "Threads");
  }
  if (auto stat = read_file(self + "/stat")) {
    if (auto times = parse_stat(*stat)) {
      const long ticks = sysconf(_SC_CLK_TCK);
      if (ticks > 0) {
        stats.cpu_seconds = (times->user_ticks + times->system_ticks) / static_cast<double>(ticks);
        if (auto proc_stat = read_file(proc_root + "/stat")) {
          if (auto boot = parse_boot_time(*proc_stat)) {
            stats.start_time_seconds = *boot + times->start_ticks / static_cast<double>(ticks);
          }
        }
      }
    }
  }
  stats.open_fds = count_open_fds(self + "/fd");
  if (auto limits = read_file(self + "/limits")) stats.max_fds = parse_max_open_files(*limits);
  return stats;
}

std::vector<prometheus::MetricFamily> process_families(const ProcessStats& stats) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  auto add = [&out](const std::optional<double>& value, const char* name, const char* help,
                    MetricType type) {
    if (!value) return;
    prometheus::MetricFamily& f = out.emplace_back(metrics::family(name, help, type));
    if (type == MetricType::Counter) {
      metrics::add_counter(f, {}, *value);
    } else {
      metrics::add_gauge(f, {}, *value);
    }
  };
  add(stats.cpu_seconds, "process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.", MetricType::Counter);
  add(stats.open_fds, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  add(stats.max_fds, "process_max_fds", "Maximum number of open file descriptors.",
      MetricType::Gauge);
  add(stats.virtual_memory_bytes, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
      MetricType::Gauge);
  add(stats.resident_memory_bytes, "process_resident_memory_bytes",
      "Resident memory size in bytes.", MetricType::Gauge);
  add(stats.start_time_seconds, "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.", MetricType::Gauge);
  add(stats.threads, "process_threads", "Number of OS threads in the process.", MetricType::Gauge);
  return out;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  return process_families(read_process_stats(proc_root_));
}

}  // namespace jmedia::transport
