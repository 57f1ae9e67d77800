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
//
// What it costs is one pread per file read (~2 us, procfs's stat more), so it reads
// less where that is exact: a cgroup round first reads the root's usage and, when it did
// not move since the last round's first read, no cgroup's did either, so none is read; a
// cgroup whose tracked parent did not move is not read (the usage counts descendants, and
// the parent is read first). A process round reads only until the next cgroup deadline,
// then goes on after that cgroup round: thousands of processes never delay a cgroup round.
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
  // 22 of a process's stat, which tells a reused pid apart. parentSlot: a cgroup's nearest
  // tracked ancestor (-1: none), tracked before it.
  int track(int slot, CpuFormat format, const std::string& path, int parentSlot, uint64_t& startTicks);
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
    double last = -1;         // last value pushed; < 0 before the baseline or after a dropped round
    int parentSlot = -1;      // cgroups: the nearest tracked ancestor
    long parent = -1;         // its index in cgroups_, when it comes before this one
    uint64_t movedRound = 0;  // cgroups: the last round in which its value moved
  };
  // A round of one kind being built: its records, when it began, how far it has read.
  struct Round {
    std::vector<double> records;
    int64_t startNs = 0;
    size_t next = 0;    // entries read so far
    size_t ended = 0;
    bool open = false;
  };
  // Reads one entry: 0 and the raw value (`ended`: the value is its last, a zombie's),
  // ESRCH when it has ended, or another errno.
  static int read(Entry& entry, uint64_t& raw, bool& ended);
  void run();
  // Takes what track() and untrack() queued: the processes' only between process rounds.
  void takeCommands();
  void linkParents();
  // Reads entries[round.next..) into round.records until done (true) or `untilNs` passes.
  // rootMoved: cgroups only, whether the root's usage moved (else nullptr: read them all).
  bool readEntries(std::vector<Entry>& entries, Round& round, int64_t untilNs, const bool* rootMoved);
  // The system counter now, relative; its last value if the read fails (the round still closes).
  double systemValue(Entry& system);
  // Closes a round with its system record, pushes it and drops the entries that ended.
  void close(std::vector<Entry>& entries, Round& round, Entry& system, double systemValue);
  void cgroupRound(int64_t nowNs);
  static double relative(const Entry& entry, uint64_t raw) { return static_cast<double>(raw - std::min(raw, entry.base)); }

  const CpuTimesConfig config_;
  Ring ring_;
  Entry procStat_, rootCgroup_;
  std::vector<Entry> processes_, cgroups_;  // the thread's
  Round processRound_, cgroupRound_;
  uint64_t cgroupRounds_ = 0;               // numbers the cgroup rounds, for movedRound
  uint64_t rootFirst_ = 0;                  // the root's first reading in the last cgroup round
  bool rootKnown_ = false;                  // rootFirst_ holds one and nothing was lost since

  std::mutex commandsMutex_;                // guards the two below
  std::vector<Entry> added_;
  std::vector<int> removed_;

  std::atomic<uint64_t> rounds_{0}, droppedRounds_{0}, readErrors_{0}, ended_{0}, tracked_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  bool running_ = false;
};

}  // namespace wattmeter
