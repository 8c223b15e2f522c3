// Lock-free metric primitives for hot paths, exposed through a prometheus::Collectable.
// prometheus-cpp's own Counter is a CAS loop on one shared atomic<double> and its Histogram
// takes a mutex: fine for a scrape, not for every RTP packet or request on every thread.
// These stripe their counts over cache lines and are summed only when scraped.
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace jmedia::metrics {

// A monotonically increasing count, striped by thread so that threads rarely share a line.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept;
  std::uint64_t value() const noexcept;

 private:
  static constexpr std::size_t kStripes = 8;
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> value{0};
  };
  std::array<Stripe, kStripes> stripes_;
};

// Fixed buckets (upper bounds in seconds or any base unit), counts per bucket, sum kept in
// integer micro-units so that it can be an atomic add.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value) noexcept;
  std::uint64_t count() const noexcept;
  // Fills a ClientMetric's histogram (cumulative buckets, +Inf last).
  void fill(prometheus::ClientMetric& metric) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
  std::atomic<std::uint64_t> sum_micros_{0};
};

// Builders for Collect().
prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type);
using Labels = std::initializer_list<std::pair<const char*, std::string>>;
void add_counter(prometheus::MetricFamily& family, Labels labels, double value);
void add_gauge(prometheus::MetricFamily& family, Labels labels, double value);
void add_histogram(prometheus::MetricFamily& family, Labels labels, const Histogram& histogram);

// Common latency buckets, in seconds (100 us .. 10 s).
std::vector<double> latency_buckets();

}  // namespace jmedia::metrics
