// CPU times sampled on their own thread, beside the energy sampler: the system's busy
// time and each tracked process's and cgroup's, on the energy ticks' clock, into a ring
// of (timestamp ms, slot, value) records that JavaScript drains in bulk and turns into
// attribution (lib/attribution/). Its own thread, because reading hundreds of
// /proc/<pid>/stat files takes milliseconds that would make the energy ticks late.
//
// Two schedules, each a round at its own rate: processes (/proc advances in 10 ms clock
// ticks: 10 Hz carries what there is) and cgroups (nanosecond counters: 100 Hz). A round
// reads its consumers, then its system counter (processes: <procRoot>/stat busy ticks;
// cgroups: the root cgroup's usage, in ns like theirs), and pushes, all at once, one
// record per consumer whose value changed and then the system record, which closes the
// round. A consumer's first record is its baseline; a record with value NaN says it
// ended (the process exited, the cgroup was removed) and is read no more.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "file.h"
#include "ring.h"

namespace wattmeter {

// What a tracked file holds. Values are pushed relative to the first reading, so that
// they stay small and exact in a double: process and system-ticks in clock ticks,
// cgroups and the root cgroup in ns.
enum class CpuFormat { ProcessStat, SystemStat, CgroupV2, CgroupV1 };

// The slots of the two system records; JavaScript numbers consumers from 0.
inline constexpr int kProcessRoundSlot = -1;
inline constexpr int kCgroupRoundSlot = -2;

struct CpuTimesConfig {
  std::string procStat;        // <procRoot>/stat: closes the process rounds
  std::string rootCgroup;      // the root cgroup's cpu.stat or cpuacct.usage ('' : no cgroup rounds)
  CpuFormat rootCgroupFormat;  // CgroupV2 or CgroupV1
  double processRateHz;
  double cgroupRateHz;
  size_t capacity;             // records the ring holds
  int64_t realtimeOffsetNs;    // the energy sampler's, so timestamps compare
};

struct CpuTimesStats {
  uint64_t rounds = 0;
  uint64_t droppedRounds = 0;  // the ring was full
  uint64_t readErrors = 0;     // a read failed or did not parse (not an ending)
  uint64_t ended = 0;
  uint64_t tracked = 0;        // consumers being read now
};

class CpuTimes {
 public:
  explicit CpuTimes(const CpuTimesConfig& config);  // opens the system files (throws SourceError)
  ~CpuTimes();
  CpuTimes(const CpuTimes&) = delete;
  CpuTimes& operator=(const CpuTimes&) = delete;

  void start();
  void stop();

  // Opens `path` and reads it once (JavaScript thread); the thread reads it from its next
  // round on. Returns 0 or an errno (EIO: not the expected content); startTicks is field
  // 22 of a process's stat, which tells a reused pid apart.
  int track(int slot, CpuFormat format, const std::string& path, uint64_t& startTicks);
  void untrack(int slot);

  size_t pending() { return ring_.size(); }
  void drain(double* columns, size_t n) { ring_.pop(columns, n); }
  CpuTimesStats stats() const;

 private:
  struct Entry {
    int slot;
    CpuFormat format;
    Fd fd;
    uint64_t base = 0;        // first reading
    uint64_t startTicks = 0;  // processes: must not change (a reused pid would)
    double last = -1;         // last value pushed; -1 before the baseline
  };
  // Reads one entry: 0 and the raw value (`ended`: the value is its last, a zombie's),
  // ESRCH when it has ended, or another errno.
  static int read(Entry& entry, uint64_t& raw, bool& ended);
  void run();
  void round(bool processes, int64_t nowNs);

  const CpuTimesConfig config_;
  Ring ring_;
  Entry procStat_, rootCgroup_;
  std::vector<Entry> processes_, cgroups_;  // the thread's
  std::vector<double> records_;             // the round being built

  std::mutex commandsMutex_;                // guards the two below
  std::vector<Entry> added_;
  std::vector<int> removed_;

  std::atomic<uint64_t> rounds_{0}, droppedRounds_{0}, readErrors_{0}, ended_{0}, tracked_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  bool running_ = false;
};

}  // namespace wattmeter
