// A log-linear histogram of lateness in nanoseconds (HdrHistogram's layout): values below
// 128 have a bucket each; above, every power of two is cut into 64 buckets, so a bucket is
// at most 1/64 of its value wide and its midpoint is within 0.8 % of any value in it.
//
// One thread records, another reads. Counts are relaxed atomics: a reader needs no
// ordering between buckets (a percentile read while ticks arrive is off by those few
// ticks at most), only untorn values. The single writer updates with load + store, which
// avoids a locked read-modify-write on every tick.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace wattmeter {

class Histogram {
 public:
  void record(int64_t ns) {
    uint64_t v = static_cast<uint64_t>(std::clamp<int64_t>(ns, 0, kMaxValue));
    std::atomic<uint64_t>& bucket = counts_[indexOf(v)];
    bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (v > max_.load(std::memory_order_relaxed)) max_.store(v, std::memory_order_relaxed);
  }

  // The value below which a fraction q (0..1) of the recorded values lie, in ns.
  double quantile(double q) const {
    uint64_t total = 0;
    for (const auto& count : counts_) total += count.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(q * static_cast<double>(total) + 0.5));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; i++) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return std::min(midpoint(i), static_cast<double>(max()));
    }
    return static_cast<double>(max());
  }

  uint64_t max() const { return max_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kSubBits = 6;                          // 64 buckets per power of two
  static constexpr int64_t kMaxValue = (int64_t{1} << 37) - 1;  // 137 s; larger is clamped
  static constexpr size_t kBuckets = (37 - 1 - kSubBits) * 64 + 128;  // indexOf(kMaxValue) + 1

  static size_t indexOf(uint64_t v) {
    if (v < 128) return static_cast<size_t>(v);
    int shift = 63 - __builtin_clzll(v) - kSubBits;  // v >> shift is in [64, 128)
    return static_cast<size_t>(64 * shift) + static_cast<size_t>(v >> shift);
  }

  static double midpoint(size_t index) {
    if (index < 128) return static_cast<double>(index);
    int shift = static_cast<int>(index / 64) - 1;
    uint64_t low = static_cast<uint64_t>(index - 64 * static_cast<size_t>(shift)) << shift;
    return static_cast<double>(low) + static_cast<double>(uint64_t{1} << shift) / 2;
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> max_{0};
};

}  // namespace wattmeter
