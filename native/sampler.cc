#include "sampler.h"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <future>

#include "clock.h"

namespace wattmeter {
namespace {

// A long sleep is cut into slices this long, so stop() never waits a whole period
// (a second at 1 Hz) for the thread to notice.
constexpr int64_t kStopPollNs = 20'000'000;

// Above SCHED_OTHER, well below the kernel's own realtime threads (50 and up).
constexpr int kRealtimePriority = 10;

constexpr int64_t kNsPerMs = 1'000'000;

// Single writer: load + store instead of a locked read-modify-write (see sampler.h).
void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

int64_t realtimeOffsetNs() { return clockNs(CLOCK_REALTIME) - monotonicNs(); }

// struct sched_attr of the sched_setattr system call, under our own name: glibc 2.41 and
// linux/sched/types.h both define the real one, and older glibc has neither.
struct SchedAttr {
  uint32_t size;
  uint32_t policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime;
  uint64_t deadline;
  uint64_t period;
};

constexpr uint64_t kSliceNs = 100'000;

// Asks the fair scheduler (EEVDF, Linux 6.12+) for a 0.1 ms slice, its shortest. A task
// with a shorter slice gets an earlier virtual deadline, so when it wakes it preempts a
// CPU-bound task instead of waiting for that task's slice (1.4 ms on a 2-CPU machine) to
// run out. Unprivileged. Older kernels accept the call and ignore the field, so what is
// in force is read back: "" when it is, else why not.
std::string requestShortSlice() {
  SchedAttr attr{};
  attr.size = sizeof attr;
  attr.policy = SCHED_OTHER;
  attr.nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  attr.runtime = kSliceNs;
  const std::string what = "a 0.1 ms scheduler slice (EEVDF custom slice, Linux 6.12+) is not in force: ";
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) return what + "sched_setattr: " + std::strerror(errno);
  attr = SchedAttr{};
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0) return what + "sched_getattr: " + std::strerror(errno);
  if (attr.runtime == kSliceNs) return "";
  utsname kernel{};
  uname(&kernel);
  const std::string reported = attr.runtime == 0 ? "has no custom slices"
                                                : "reports a slice of " + std::to_string(attr.runtime / 1000) + " us";
  return what + "the kernel (Linux " + kernel.release + ") " + reported +
         "; a waking sampler may wait out a busy CPU's slice (a few ms)";
}

}  // namespace

Sampler::Sampler(std::vector<std::unique_ptr<EnergyDomain>> domains, const SamplerConfig& config)
    : domains_(std::move(domains)),
      config_(config),
      periodNs_(std::max<int64_t>(1, std::llround(1e9 / config.rateHz))),
      realtimeOffsetNs_(realtimeOffsetNs()),
      ring_(config.capacity, 1 + domains_.size()),
      record_(1 + domains_.size()),
      last_(domains_.size()),
      changes_(new std::atomic<uint64_t>[domains_.size()]()) {}

Sampler::~Sampler() { stop(); }

void Sampler::start() {
  if (running_) return;
  stopping_.store(false, std::memory_order_relaxed);
  // Before the thread exists, so elapsed time covers every tick it records.
  startedNs_ = monotonicNs();
  std::promise<Setup> ready;
  std::future<Setup> setup = ready.get_future();
  // The promise moves into the thread: it must outlive set_value, and start() may return
  // before set_value itself has returned.
  thread_ = std::thread([this, ready = std::move(ready)]() mutable {
    ready.set_value(setUpThread());
    run();
  });
  // Wait for the thread's scheduling to be settled, so stats() right after start() tells
  // the truth about realtime.
  Setup result = setup.get();
  realtime_ = result.realtime;
  settings_ = result.settings;
  for (const std::string& note : result.notes) {
    if (std::find(notes_.begin(), notes_.end(), note) == notes_.end()) notes_.push_back(note);
  }
  running_ = true;
}

void Sampler::stop() {
  if (!running_) return;
  stopNs_ = monotonicNs();
  stopping_.store(true, std::memory_order_release);
  thread_.join();
  running_ = false;
  elapsedNs_ += endNs_ - startedNs_;
}

Sampler::Setup Sampler::setUpThread() {
  pthread_setname_np(pthread_self(), "wattmeter");  // as top -H and perf show it
  Setup setup{false, {}, {}};
  // The default 50 us of timer slack would be most of the lateness: the kernel may delay
  // each wake-up by that much to batch timers.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 1) setup.settings.push_back("timer slack 1 ns");
  else setup.notes.push_back("a timer slack of 1 ns is not in force: wake-ups may come up to 50 us late");
  std::string slice = requestShortSlice();
  if (!slice.empty()) setup.notes.push_back(slice);
  if (config_.realtime) {
    sched_param param{};
    param.sched_priority = kRealtimePriority;
    int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
    if (err == 0) {
      setup.realtime = true;
      setup.settings.push_back("SCHED_FIFO priority " + std::to_string(kRealtimePriority));
      return setup;  // the fair scheduler's slice no longer applies
    }
    setup.notes.push_back(std::string("realtime scheduling (SCHED_FIFO) refused: ") + std::strerror(err) +
                          "; it needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO of at least " +
                          std::to_string(kRealtimePriority));
  }
  if (slice.empty()) setup.settings.push_back("EEVDF slice 0.1 ms");
  return setup;
}

void Sampler::sleepUntil(int64_t deadlineNs) {
  for (;;) {
    int64_t wake = periodNs_ > kStopPollNs ? std::min(deadlineNs, monotonicNs() + kStopPollNs) : deadlineNs;
    timespec ts{static_cast<time_t>(wake / kNsPerSecond), static_cast<long>(wake % kNsPerSecond)};
    // Absolute: a deadline is never pushed back by the time the previous tick took.
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    if (wake == deadlineNs || stopping_.load(std::memory_order_relaxed)) return;
  }
}

void Sampler::run() {
  // The first deadline on a whole millisecond of the timestamps' clock, and so every one
  // at rates whose period is whole milliseconds: a tick then shares its millisecond with
  // the next only if it is a whole period late, when the next deadline is skipped anyway.
  // Off the grid, a tick a little late crosses into the next tick's millisecond, and the
  // timestamped exporters, which keep one sample per millisecond, fold the two.
  // Counted from start(), not from when this thread first ran: a thread that a busy
  // machine starts late has missed those deadlines, and counts them as overruns below.
  int64_t deadline = startedNs_ + kNsPerMs - (startedNs_ + realtimeOffsetNs_) % kNsPerMs;
  for (;;) {
    sleepUntil(deadline);
    if (stopping_.load(std::memory_order_acquire)) break;
    int64_t now = monotonicNs();
    int64_t late = now - deadline;
    lateness_.record(late);
    if (late >= periodNs_) {
      // Woke past the next deadline(s): those ticks are lost, not made up in a burst
      // that would record several readings of the same instant.
      int64_t missed = late / periodNs_;
      bump(overruns_, static_cast<uint64_t>(missed));
      deadline += missed * periodNs_;
    }
    tick(now);
    deadline += periodNs_;
  }
  // The stop found the thread asleep before `deadline` or starved past it: the deadlines up
  // to the stop are missed. A tick taken after the stop was called still counts, to its deadline.
  if (stopNs_ >= deadline) bump(overruns_, static_cast<uint64_t>((stopNs_ - deadline) / periodNs_ + 1));
  endNs_ = std::max(stopNs_, deadline - periodNs_);
}

// Ms since the epoch as a double, whose step is about 0.24 us today: its whole part is
// always the tick's own millisecond. The nearest double to a time less than 0.12 us before
// a millisecond's end is the next millisecond; the one just below is taken instead.
double Sampler::wallMs(int64_t nowNs) const {
  const int64_t ns = nowNs + realtimeOffsetNs_;
  const double ms = static_cast<double>(ns / kNsPerMs);
  const double stamp = ms + static_cast<double>(ns % kNsPerMs) / 1e6;
  return stamp < ms + 1 ? stamp : std::nextafter(ms + 1, 0.0);
}

void Sampler::tick(int64_t nowNs) {
  // Wall-clock time derived from the monotonic clock, so timestamps always rise even when
  // the system clock is stepped.
  record_[0] = wallMs(nowNs);
  const int64_t ms = (nowNs + realtimeOffsetNs_) / kNsPerMs;  // what the exporters fold on
  if (ms == lastMs_) bump(sharingMs_);
  lastMs_ = ms;
  for (size_t i = 0; i < domains_.size(); i++) {
    double value = 0;
    if (domains_[i]->sample(nowNs, value) != 0) bump(readErrors_);
    if (value != last_[i]) bump(changes_[i]);
    last_[i] = value;
    record_[1 + i] = value;
  }
  bump(ticks_);
  // Values are cumulative, so a dropped tick loses time resolution, never energy.
  if (!ring_.push(record_.data())) bump(dropped_);
}

SamplerStats Sampler::stats() {
  SamplerStats s;
  s.running = running_;
  s.ticks = ticks_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.overruns = overruns_.load(std::memory_order_relaxed);
  s.readErrors = readErrors_.load(std::memory_order_relaxed);
  s.ticksSharingMs = sharingMs_.load(std::memory_order_relaxed);
  s.elapsedS = static_cast<double>(elapsedNs_ + (running_ ? monotonicNs() - startedNs_ : 0)) / 1e9;
  s.latenessP50Us = lateness_.quantile(0.50) / 1e3;
  s.latenessP99Us = lateness_.quantile(0.99) / 1e3;
  s.latenessMaxUs = static_cast<double>(lateness_.max()) / 1e3;
  for (size_t i = 0; i < domains_.size(); i++) s.changes.push_back(changes_[i].load(std::memory_order_relaxed));
  s.realtime = realtime_;
  s.settings = settings_;
  s.notes = notes_;
  return s;
}

}  // namespace wattmeter
