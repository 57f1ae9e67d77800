#include "cputime.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "clock.h"
#include "error.h"
#include "procstat.h"

namespace wattmeter {
namespace {

constexpr int64_t kStopPollNs = 20'000'000;  // stop() waits at most this long

void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

int64_t periodNs(double rateHz) { return std::max<int64_t>(1, std::llround(1e9 / rateHz)); }

}  // namespace

int CpuTimes::read(Entry& entry, uint64_t& raw, bool& ended) {
  char text[1024];  // a stat line is about 300 bytes; cpu.stat's usage_usec is its first line
  long n = preadFull(entry.fd.get(), text, sizeof text, 0);
  // A process that ended reads ESRCH; a removed cgroup ENODEV: both are an ending.
  if (n == -ESRCH || n == -ENODEV || n == -ENOENT) return ESRCH;
  if (n < 0) return static_cast<int>(-n);
  size_t size = static_cast<size_t>(n);
  switch (entry.format) {
    case CpuFormat::ProcessStat: {
      ProcessCpuTimes times;
      if (!parseProcessStat(text, size, times)) return EIO;
      // Another start time is another process on the same pid: ours ended before.
      if (times.startTicks != entry.startTicks) return ESRCH;
      raw = times.ticks;
      ended = times.ended;  // a zombie's times are final: count them, then stop
      return 0;
    }
    case CpuFormat::SystemStat: {
      SystemCpuTimes times;
      if (!parseCpuLine(text, size, times)) return EIO;
      raw = times.busy;
      return 0;
    }
    case CpuFormat::CgroupV2:
      return parseCgroupV2Usage(text, size, raw) ? 0 : EIO;
    case CpuFormat::CgroupV1:
      return parseLeadingU64(text, size, raw) ? 0 : EIO;
  }
  return EIO;
}

CpuTimes::CpuTimes(const CpuTimesConfig& config) : config_(config), ring_(config.capacity, 3) {
  auto openSystem = [](Entry& entry, CpuFormat format, const std::string& path) {
    entry.format = format;
    entry.fd = openOrThrow(path);
    uint64_t raw = 0;
    bool ended = false;
    int err = read(entry, raw, ended);
    if (err == EIO) throw SourceError(kBadFile, path, path + ": not the CPU times expected there");
    if (err) throw errnoError(err, path);
    entry.base = raw;
  };
  openSystem(procStat_, CpuFormat::SystemStat, config.procStat);
  procStat_.slot = kProcessRoundSlot;
  if (!config.rootCgroup.empty()) {
    openSystem(rootCgroup_, config.rootCgroupFormat, config.rootCgroup);
    rootCgroup_.slot = kCgroupRoundSlot;
  }
}

CpuTimes::~CpuTimes() { stop(); }

int CpuTimes::track(int slot, CpuFormat format, const std::string& path, int parentSlot, uint64_t& startTicks) {
  Entry entry{slot, format, Fd()};
  entry.parentSlot = parentSlot;
  if (int err = openReadOnly(path, entry.fd)) return err;
  uint64_t raw = 0;
  if (format == CpuFormat::ProcessStat) {
    char text[1024];
    long n = preadFull(entry.fd.get(), text, sizeof text, 0);
    if (n < 0) return static_cast<int>(-n);
    ProcessCpuTimes times;
    if (!parseProcessStat(text, static_cast<size_t>(n), times)) return EIO;
    if (times.ended) return ESRCH;
    entry.startTicks = times.startTicks;
    raw = times.ticks;
  } else {
    bool ended = false;
    if (int err = read(entry, raw, ended)) return err;
  }
  entry.base = raw;
  startTicks = entry.startTicks;
  std::lock_guard<std::mutex> lock(commandsMutex_);
  added_.push_back(std::move(entry));
  return 0;
}

void CpuTimes::untrack(int slot) {
  std::lock_guard<std::mutex> lock(commandsMutex_);
  removed_.push_back(slot);
}

void CpuTimes::start() {
  if (running_) return;
  stopping_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wattmeter-cpu");
    run();
  });
  running_ = true;
}

void CpuTimes::stop() {
  if (!running_) return;
  stopping_.store(true, std::memory_order_relaxed);
  thread_.join();
  running_ = false;
}

void CpuTimes::run() {
  const bool cgroups = !config_.rootCgroup.empty();
  const int64_t processPeriod = periodNs(config_.processRateHz);
  const int64_t cgroupPeriod = periodNs(config_.cgroupRateHz);
  int64_t nextProcess = monotonicNs();
  int64_t nextCgroup = cgroups ? nextProcess : std::numeric_limits<int64_t>::max();
  while (!stopping_.load(std::memory_order_relaxed)) {
    // A process round left open for a cgroup round goes on at once.
    if (!processRound_.open) {
      int64_t deadline = std::min(nextProcess, nextCgroup);
      int64_t wake = std::min(deadline, monotonicNs() + kStopPollNs);
      timespec ts{static_cast<time_t>(wake / kNsPerSecond), static_cast<long>(wake % kNsPerSecond)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
      if (wake != deadline) continue;
    }
    int64_t now = monotonicNs();
    // A late round is one round, not a burst: deadlines missed are skipped.
    auto advance = [now](int64_t& next, int64_t period) { next += std::max<int64_t>(1, (now - next) / period + 1) * period; };
    if (nextCgroup <= now) {
      cgroupRound(now);
      advance(nextCgroup, cgroupPeriod);
    }
    if (!processRound_.open && nextProcess <= now) {
      takeCommands();
      processRound_.open = true;
      processRound_.startNs = now;
      advance(nextProcess, processPeriod);
    }
    if (processRound_.open && readEntries(processes_, processRound_, nextCgroup, nullptr)) {
      close(processes_, processRound_, procStat_, systemValue(procStat_));
    }
  }
  // Stopped in the middle of a process round: it ends whole, so no reading is lost.
  if (processRound_.open) {
    readEntries(processes_, processRound_, std::numeric_limits<int64_t>::max(), nullptr);
    close(processes_, processRound_, procStat_, systemValue(procStat_));
  }
}

void CpuTimes::takeCommands() {
  std::lock_guard<std::mutex> lock(commandsMutex_);
  const bool processes = !processRound_.open;
  bool relink = false;
  for (auto it = added_.begin(); it != added_.end();) {
    const bool process = it->format == CpuFormat::ProcessStat;
    if (process && !processes) {
      ++it;
      continue;
    }
    (process ? processes_ : cgroups_).push_back(std::move(*it));
    relink = relink || !process;
    it = added_.erase(it);
  }
  if (!removed_.empty()) {
    std::sort(removed_.begin(), removed_.end());
    auto gone = [this](const Entry& e) { return std::binary_search(removed_.begin(), removed_.end(), e.slot); };
    size_t before = cgroups_.size();
    cgroups_.erase(std::remove_if(cgroups_.begin(), cgroups_.end(), gone), cgroups_.end());
    relink = relink || cgroups_.size() != before;
    if (processes) {
      processes_.erase(std::remove_if(processes_.begin(), processes_.end(), gone), processes_.end());
      removed_.clear();
    }
  }
  if (relink) linkParents();
}

void CpuTimes::linkParents() {
  std::unordered_map<int, long> index;
  for (size_t i = 0; i < cgroups_.size(); i++) {
    auto found = index.find(cgroups_[i].parentSlot);
    cgroups_[i].parent = found == index.end() ? -1 : found->second;  // a parent after its child is read anyway
    index[cgroups_[i].slot] = static_cast<long>(i);
  }
}

bool CpuTimes::readEntries(std::vector<Entry>& entries, Round& round, int64_t untilNs, const bool* rootMoved) {
  const bool timed = untilNs != std::numeric_limits<int64_t>::max();
  // At least 8 reads a call, so a round still ends when cgroup rounds run late.
  for (const size_t first = round.next; round.next < entries.size(); round.next++) {
    if (timed && round.next > first && (round.next - first) % 8 == 0 && monotonicNs() >= untilNs) return false;
    Entry& entry = entries[round.next];
    if (rootMoved && entry.last >= 0) {
      // Unmoved since its last read: the nearest tracked ancestor (or the root) did not move.
      bool moved = entry.parent < 0 ? *rootMoved : entries[static_cast<size_t>(entry.parent)].movedRound == cgroupRounds_;
      if (!moved) continue;
    }
    uint64_t raw = 0;
    bool last = false;
    int err = read(entry, raw, last);
    if (err && err != ESRCH) {
      bump(readErrors_);
      entry.movedRound = cgroupRounds_;  // unknown: its children are read
      continue;
    }
    if (err == 0) {
      double value = relative(entry, raw);
      if (value != entry.last) {
        round.records.insert(round.records.end(), {0, static_cast<double>(entry.slot), value});
        entry.movedRound = cgroupRounds_;
      }
      entry.last = value;
    }
    if (err == ESRCH || last) {
      round.records.insert(round.records.end(), {0, static_cast<double>(entry.slot), std::nan("")});
      entry.fd = Fd();  // marks it for removal in close()
      entry.movedRound = cgroupRounds_;
      round.ended++;
    }
  }
  return true;
}

double CpuTimes::systemValue(Entry& system) {
  uint64_t raw = 0;
  bool unused = false;
  if (read(system, raw, unused) == 0) return relative(system, raw);
  bump(readErrors_);
  return std::max(0.0, system.last);
}

void CpuTimes::cgroupRound(int64_t startNs) {
  takeCommands();
  cgroupRounds_++;
  Round& round = cgroupRound_;
  round.startNs = startNs;
  round.open = true;
  // The root first: unmoved since the last round's first read, nothing below it moved.
  uint64_t raw = 0;
  bool unused = false;
  const bool ok = read(rootCgroup_, raw, unused) == 0;
  if (!ok) bump(readErrors_);
  const bool rootMoved = !ok || !rootKnown_ || raw != rootFirst_;
  rootFirst_ = raw;
  rootKnown_ = ok;
  readEntries(cgroups_, round, std::numeric_limits<int64_t>::max(), &rootMoved);
  close(cgroups_, round, rootCgroup_, rootMoved ? systemValue(rootCgroup_) : relative(rootCgroup_, raw));
}

void CpuTimes::close(std::vector<Entry>& entries, Round& round, Entry& system, double value) {
  std::vector<double>& records = round.records;
  records.insert(records.end(), {0, static_cast<double>(system.slot), value});
  system.last = value;
  // One timestamp for the whole round: the middle of its reads.
  const double timestampMs = static_cast<double>((round.startNs + monotonicNs()) / 2 + config_.realtimeOffsetNs) / 1e6;
  for (size_t i = 0; i < records.size(); i += 3) records[i] = timestampMs;
  if (round.ended > 0) {
    entries.erase(std::remove_if(entries.begin(), entries.end(), [](const Entry& e) { return e.fd.get() < 0; }), entries.end());
    if (&entries == &cgroups_) linkParents();
    bump(ended_, round.ended);
  }
  if (ring_.pushAll(records.data(), records.size() / 3)) {
    bump(rounds_);
  } else {
    bump(droppedRounds_);
    // The values not delivered must be delivered by a later round: forget them.
    for (Entry& entry : entries) entry.last = -2;
    if (&entries == &cgroups_) rootKnown_ = false;
  }
  records.clear();
  round.next = 0;
  round.ended = 0;
  round.open = false;
  tracked_.store(processes_.size() + cgroups_.size(), std::memory_order_relaxed);
}

CpuTimesStats CpuTimes::stats() const {
  CpuTimesStats s;
  s.rounds = rounds_.load(std::memory_order_relaxed);
  s.droppedRounds = droppedRounds_.load(std::memory_order_relaxed);
  s.readErrors = readErrors_.load(std::memory_order_relaxed);
  s.ended = ended_.load(std::memory_order_relaxed);
  s.tracked = tracked_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace wattmeter
