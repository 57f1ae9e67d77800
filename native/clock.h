// The clocks the sampler and the model share.
#pragma once

#include <time.h>

#include <cstdint>

namespace wattmeter {

inline constexpr int64_t kNsPerSecond = 1000000000;

inline int64_t clockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

inline int64_t monotonicNs() { return clockNs(CLOCK_MONOTONIC); }

}  // namespace wattmeter
