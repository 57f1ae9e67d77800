// The sampler: one native thread per sampler that reads every domain on absolute
// deadlines and pushes (timestamp, cumulative energy per domain) into a ring that
// JavaScript drains in bulk.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "domain.h"
#include "histogram.h"
#include "ring.h"

namespace wattmeter {

inline constexpr double kMaxRateHz = 100000;

struct SamplerConfig {
  double rateHz;    // 1 .. kMaxRateHz
  size_t capacity;  // ticks the ring holds
  bool realtime;    // ask for SCHED_FIFO
};

struct SamplerStats {
  bool running;
  uint64_t ticks;      // recorded, pushed or dropped
  uint64_t dropped;    // lost because the ring was full
  uint64_t overruns;   // deadlines missed entirely
  uint64_t readErrors;
  uint64_t ticksSharingMs;  // ticks in the same millisecond as the tick before
  double elapsedS;     // time spent running, over every start/stop
  double latenessP50Us, latenessP99Us, latenessMaxUs;
  std::vector<uint64_t> changes;  // per domain: ticks whose value differed from the last
  bool realtime;                  // SCHED_FIFO in effect
  std::vector<std::string> settings;  // the sampler thread's scheduling settings in force
  std::vector<std::string> notes;
};

// start, stop, drain and stats are called from one JavaScript thread; the sampler thread
// is the ring's producer and the only writer of the counters it updates.
class Sampler {
 public:
  Sampler(std::vector<std::unique_ptr<EnergyDomain>> domains, const SamplerConfig& config);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void start();  // no-op when running
  void stop();   // no-op when stopped; returns once the thread has ended

  // Ticks waiting in the ring, and moving n of them out (column-major, see Ring::pop).
  size_t pending() { return ring_.size(); }
  void drain(double* columns, size_t n) { ring_.pop(columns, n); }

  SamplerStats stats();

  // Now, on the clock of the tick timestamps (ms since the epoch): lets a consumer place
  // its own events among the ticks exactly, whatever the system clock did since open.
  double nowMs() const { return wallMs(monotonicNs()); }
  int64_t clockOffsetNs() const { return realtimeOffsetNs_; }  // CLOCK_REALTIME - CLOCK_MONOTONIC at open

 private:
  struct Setup {
    bool realtime;
    std::vector<std::string> settings;  // in force
    std::vector<std::string> notes;     // asked for and not in force, and why
  };
  Setup setUpThread();
  double wallMs(int64_t nowNs) const;  // CLOCK_MONOTONIC ns to the ticks' ms since the epoch
  void run();
  void sleepUntil(int64_t deadlineNs);
  void tick(int64_t nowNs);

  const std::vector<std::unique_ptr<EnergyDomain>> domains_;
  const SamplerConfig config_;
  const int64_t periodNs_;
  const int64_t realtimeOffsetNs_;  // CLOCK_REALTIME - CLOCK_MONOTONIC, taken at open

  Ring ring_;
  std::vector<double> record_;  // the tick being built (sampler thread)
  std::vector<double> last_;    // each domain's previous value (sampler thread)
  int64_t lastMs_ = -1;         // the previous tick's millisecond (sampler thread)

  // Written by the sampler thread only, read by stats(). Relaxed: each is a count read on
  // its own, nothing else is published through it, and stop() joins the thread before
  // the final values matter.
  std::atomic<uint64_t> ticks_{0}, dropped_{0}, overruns_{0}, readErrors_{0}, sharingMs_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> changes_;
  Histogram lateness_;

  // Set by stop(). Relaxed where the thread only polls it (sleepUntil): it needs to see it
  // eventually, and sleeps at most 20 ms between looks. Stored with release after stopNs_,
  // loaded with acquire where run() acts on it: run() then reads the stopNs_ stop() wrote.
  std::atomic<bool> stopping_{false};
  // When stop() was called. The deadlines up to it that the thread did not reach, asleep or
  // starved, are overruns: every deadline while the sampler ran is a tick or an overrun.
  int64_t stopNs_ = 0;
  int64_t endNs_ = 0;  // the last instant accounted for: written by the thread, read after join()
  std::thread thread_;

  // JavaScript thread only.
  bool running_ = false;
  bool realtime_ = false;
  std::vector<std::string> settings_;
  std::vector<std::string> notes_;
  int64_t startedNs_ = 0;
  int64_t elapsedNs_ = 0;
};

}  // namespace wattmeter
