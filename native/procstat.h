// The parsers of procfs and cgroup CPU-time files, shared by the model source and the
// CPU-time sampler. Each takes the bytes of one pread and never allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wattmeter {

// The first ("cpu ") line of /proc/stat, in clock ticks.
struct SystemCpuTimes {
  uint64_t busy = 0;   // everything but idle and iowait
  uint64_t total = 0;
};

// "cpu  user nice system idle iowait irq softirq steal guest guest_nice". guest and
// guest_nice are left out: the kernel already counts them in user and nice.
bool parseCpuLine(const char* text, size_t size, SystemCpuTimes& times);

// /proc/<pid>/stat: utime + stime (field 14 + 15, clock ticks, the threads' included),
// starttime (field 22) and whether the state (field 3) says the process has ended (Z, X).
struct ProcessCpuTimes {
  uint64_t ticks = 0;
  uint64_t startTicks = 0;
  bool ended = false;
};
bool parseProcessStat(const char* text, size_t size, ProcessCpuTimes& times);

// cgroup v2 cpu.stat: the usage_usec line, returned in ns.
bool parseCgroupV2Usage(const char* text, size_t size, uint64_t& ns);

}  // namespace wattmeter
