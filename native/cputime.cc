#include "cputime.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>

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

int CpuTimes::track(int slot, CpuFormat format, const std::string& path, uint64_t& startTicks) {
  Entry entry{slot, format, Fd(), 0, 0, -1};
  if (int err = openReadOnly(path, entry.fd)) return err;
  if (format == CpuFormat::ProcessStat) {
    char text[1024];
    long n = preadFull(entry.fd.get(), text, sizeof text, 0);
    if (n < 0) return static_cast<int>(-n);
    ProcessCpuTimes times;
    if (!parseProcessStat(text, static_cast<size_t>(n), times)) return EIO;
    if (times.ended) return ESRCH;
    entry.startTicks = times.startTicks;
  }
  uint64_t raw = 0;
  bool ended = false;
  if (int err = read(entry, raw, ended)) return err;
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
    int64_t deadline = std::min(nextProcess, nextCgroup);
    int64_t wake = std::min(deadline, monotonicNs() + kStopPollNs);
    timespec ts{static_cast<time_t>(wake / kNsPerSecond), static_cast<long>(wake % kNsPerSecond)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    if (wake != deadline) continue;
    int64_t now = monotonicNs();
    // A late round is one round, not a burst: deadlines missed are skipped.
    auto advance = [now](int64_t& next, int64_t period) { next += std::max<int64_t>(1, (now - next) / period + 1) * period; };
    if (nextCgroup <= now) {
      round(false, now);
      advance(nextCgroup, cgroupPeriod);
    }
    if (nextProcess <= now) {
      round(true, now);
      advance(nextProcess, processPeriod);
    }
  }
}

void CpuTimes::round(bool processes, int64_t startNs) {
  std::vector<Entry>& entries = processes ? processes_ : cgroups_;
  {
    std::lock_guard<std::mutex> lock(commandsMutex_);
    for (auto it = added_.begin(); it != added_.end();) {
      if ((it->format == CpuFormat::ProcessStat) == processes) {
        entries.push_back(std::move(*it));
        it = added_.erase(it);
      } else {
        ++it;
      }
    }
    for (int slot : removed_) {
      entries.erase(std::remove_if(entries.begin(), entries.end(), [slot](const Entry& e) { return e.slot == slot; }), entries.end());
    }
    if (processes) removed_.clear();  // the process round comes second in a wake-up
  }
  // Values first, then one timestamp for the whole round: the middle of its reads.
  records_.clear();
  size_t ended = 0;
  for (Entry& entry : entries) {
    uint64_t raw = 0;
    bool last = false;
    int err = read(entry, raw, last);
    if (err && err != ESRCH) {
      bump(readErrors_);
      continue;
    }
    if (err == 0) {
      double value = static_cast<double>(raw - std::min(raw, entry.base));
      if (value != entry.last) records_.insert(records_.end(), {0, static_cast<double>(entry.slot), value});
      entry.last = value;
    }
    if (err == ESRCH || last) {
      records_.insert(records_.end(), {0, static_cast<double>(entry.slot), std::nan("")});
      entry.fd = Fd();  // marks it for removal below
      ended++;
    }
  }
  Entry& system = processes ? procStat_ : rootCgroup_;
  uint64_t raw = 0;
  bool unused = false;
  if (read(system, raw, unused) != 0) {
    bump(readErrors_);
    raw = system.base + static_cast<uint64_t>(std::max(0.0, system.last));  // the round still closes, at the last value
  }
  records_.insert(records_.end(), {0, static_cast<double>(system.slot), static_cast<double>(raw - std::min(raw, system.base))});
  system.last = records_.back();
  const double timestampMs = static_cast<double>((startNs + monotonicNs()) / 2 + config_.realtimeOffsetNs) / 1e6;
  for (size_t i = 0; i < records_.size(); i += 3) records_[i] = timestampMs;
  if (ended > 0) {
    entries.erase(std::remove_if(entries.begin(), entries.end(), [](const Entry& e) { return e.fd.get() < 0; }), entries.end());
    bump(ended_, ended);
  }
  if (ring_.pushAll(records_.data(), records_.size() / 3)) {
    bump(rounds_);
  } else {
    bump(droppedRounds_);
    // The values not delivered must be delivered by a later round: forget them.
    for (Entry& entry : entries) entry.last = -2;
  }
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
