#pragma once

// A latency histogram: fixed buckets from 10 µs to 10 s, ten to a decade (about 25% apart), so
// a quantile read from it is within one bucket of the truth. Written on one thread, read from
// any (the counts are atomics). Prometheus gets the 1-2.5-5 subset of the bounds.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vigil::hub {

class latency_histogram {
 public:
  /// Upper bounds in microseconds: {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8} × 10^k, 10 µs to 8 s.
  static constexpr std::size_t steps_per_decade = 10;
  static constexpr std::size_t decades = 6;
  static constexpr std::size_t bucket_count = steps_per_decade * decades;  // the last bucket also takes overflow

  static constexpr double bound_us(std::size_t i) {
    constexpr std::array<double, steps_per_decade> mantissa = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8};
    double scale = 10;
    for (std::size_t d = 0; d < i / steps_per_decade; ++d) scale *= 10;
    return mantissa[i % steps_per_decade] * scale;
  }

  void record(std::chrono::steady_clock::duration d) noexcept {
    const double us = std::chrono::duration<double, std::micro>(d).count();
    std::size_t i = 0;
    while (i + 1 < bucket_count && us > bound_us(i)) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<double>(0, us * 1000)), std::memory_order_relaxed);
  }

  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const noexcept { return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9; }

  /// Observations at or under `bound_us(i)` (the overflow is in the last bucket's count).
  std::uint64_t cumulative(std::size_t i) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t b = 0; b <= i && b < bucket_count; ++b) total += counts_[b].load(std::memory_order_relaxed);
    return total;
  }

  /// The q-quantile (0 < q ≤ 1) in microseconds, interpolated within its bucket; 0 when empty.
  double quantile_us(double q) const noexcept {
    const auto n = count();
    if (n == 0) return 0;
    const double rank = q * static_cast<double>(n);
    double seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      const auto c = static_cast<double>(counts_[i].load(std::memory_order_relaxed));
      if (c > 0 && seen + c >= rank) {
        const double low = i == 0 ? 0 : bound_us(i - 1);
        return low + (bound_us(i) - low) * std::clamp((rank - seen) / c, 0.0, 1.0);
      }
      seen += c;
    }
    return bound_us(bucket_count - 1);
  }

  /// The bounds Prometheus sees (seconds) with their cumulative counts: 1, 2.5 and 5 × 10^k.
  std::vector<std::pair<double, std::uint64_t>> prometheus_buckets() const {
    std::vector<std::pair<double, std::uint64_t>> out;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      const auto step = i % steps_per_decade;
      if (step == 0 || step == 4 || step == 7) out.emplace_back(bound_us(i) / 1e6, cumulative(i));
    }
    return out;
  }

 private:
  std::array<std::atomic<std::uint64_t>, bucket_count> counts_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace vigil::hub
