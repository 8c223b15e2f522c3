#include "metrics.h"

#include <algorithm>
#include <limits>

#include "thread_stripe.h"

namespace jmedia::metrics {
namespace {

prometheus::ClientMetric& add_metric(prometheus::MetricFamily& family, Labels labels) {
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  for (const auto& [name, value] : labels) metric.label.push_back({name, value});
  return metric;
}

}  // namespace

void Counter::add(std::uint64_t n) noexcept {
  stripes_[thread_stripe(kStripes)].value.fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t Counter::value() const noexcept {
  std::uint64_t total = 0;
  for (const auto& stripe : stripes_) total += stripe.value.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) noexcept {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  const double micros = value > 0 ? value * 1e6 : 0.0;
  sum_micros_.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    total += buckets_[i].load(std::memory_order_relaxed);
  return total;
}

void Histogram::fill(prometheus::ClientMetric& metric) const {
  std::uint64_t cumulative = 0;
  metric.histogram.bucket.clear();
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    metric.histogram.bucket.push_back({cumulative, bounds_[i]});
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  metric.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum =
      static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_counter(prometheus::MetricFamily& family, Labels labels, double value) {
  add_metric(family, labels).counter.value = value;
}

void add_gauge(prometheus::MetricFamily& family, Labels labels, double value) {
  add_metric(family, labels).gauge.value = value;
}

void add_histogram(prometheus::MetricFamily& family, Labels labels, const Histogram& histogram) {
  histogram.fill(add_metric(family, labels));
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

}  // namespace jmedia::metrics
