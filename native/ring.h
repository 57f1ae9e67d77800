// A lock-free single-producer single-consumer ring of fixed-size records (one tick: a
// timestamp and one value per domain), after rigtorp/SPSCQueue: the two indices on their
// own cache lines; the producer keeps a private copy of the consumer's index and touches
// the consumer's line only when its copy says the ring looks full. The consumer drains in
// bulk and reads the producer's index once per drain, so it needs no copy.
//
// The indices count records ever pushed / popped and never wrap (2^64 ticks at 100 kHz
// is millions of years); a record lives in slot index % capacity. Full is
// head - tail == capacity, so every slot is usable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace wattmeter {

class Ring {
 public:
  // Zeroed here, so the producer takes no page fault on its first lap.
  Ring(size_t capacity, size_t stride)
      : capacity_(capacity), stride_(stride), slots_(new double[capacity * stride]()) {}

  size_t stride() const { return stride_; }

  // Producer only. Copies one record in; false when the ring is full (nothing written).
  bool push(const double* record) {
    // Relaxed: only the producer writes head_.
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tailCache_ == capacity_) {
      // Acquire pairs with the consumer's release in pop(): once we see its tail, its
      // reads of those slots are done and they may be overwritten.
      tailCache_ = tail_.load(std::memory_order_acquire);
      if (head - tailCache_ == capacity_) return false;
    }
    double* slot = &slots_[(head % capacity_) * stride_];
    for (size_t i = 0; i < stride_; i++) slot[i] = record[i];
    // Release: the record's contents are visible before the consumer can see head + 1.
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Producer only. Copies n consecutive records in, all or none (the CPU-time sampler's
  // round must arrive whole); false when they do not fit.
  bool pushAll(const double* records, size_t n) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tailCache_ + n > capacity_) {
      tailCache_ = tail_.load(std::memory_order_acquire);  // as in push()
      if (head - tailCache_ + n > capacity_) return false;
    }
    for (size_t r = 0; r < n; r++) {
      double* slot = &slots_[((head + r) % capacity_) * stride_];
      for (size_t i = 0; i < stride_; i++) slot[i] = records[r * stride_ + i];
    }
    head_.store(head + n, std::memory_order_release);  // as in push()
    return true;
  }

  // Consumer only. Records ready to pop.
  size_t size() {
    // Acquire pairs with push()'s release: every record counted here is fully written.
    const uint64_t head = head_.load(std::memory_order_acquire);
    // Relaxed: only the consumer writes tail_.
    return static_cast<size_t>(head - tail_.load(std::memory_order_relaxed));
  }

  // Consumer only. Moves the oldest n records (n <= size()) into `columns`, transposed
  // while copying: value c of record i goes to columns[c * n + i].
  void pop(double* columns, size_t n) {
    // Relaxed: only the consumer writes tail_.
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
      const double* slot = &slots_[((tail + i) % capacity_) * stride_];
      for (size_t c = 0; c < stride_; c++) columns[c * n + i] = slot[c];
    }
    // Release: our reads of these slots happen before the producer may reuse them.
    tail_.store(tail + n, std::memory_order_release);
  }

 private:
  static constexpr size_t kCacheLine = 64;

  const size_t capacity_;  // in records
  const size_t stride_;    // doubles per record
  const std::unique_ptr<double[]> slots_;

  alignas(kCacheLine) std::atomic<uint64_t> head_{0};  // written by the producer
  alignas(kCacheLine) uint64_t tailCache_ = 0;         // the producer's copy of tail_
  alignas(kCacheLine) std::atomic<uint64_t> tail_{0};  // written by the consumer
};

}  // namespace wattmeter
