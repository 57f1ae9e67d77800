// The model source: an estimate for machines without RAPL (VMs, clouds, CI). One domain,
// package-0, whose power is idle + (max - idle) x CPU utilisation, utilisation from the
// first line of <procRoot>/stat. Nothing here is measured; every value it produces is
// labelled source "model".
#include <unistd.h>

#include <cerrno>
#include <string>

#include "clock.h"
#include "error.h"
#include "file.h"
#include "procstat.h"
#include "sources.h"

namespace wattmeter {
namespace {

// /proc/stat advances in clock ticks (10 ms); reading it more often only adds cost.
constexpr int64_t kStatPeriodNs = 10'000'000;

class ModelDomain final : public EnergyDomain {
 public:
  ModelDomain(const std::string& path, double idleWatts, double maxWatts)
      : fd_(openOrThrow(path)), idleWatts_(idleWatts), maxWatts_(maxWatts) {
    // The whole file once: the first line for the times, the cpuN lines for the count.
    std::string text = readTextOrThrow(path);
    if (!parseCpuLine(text.data(), text.size(), last_)) {
      throw SourceError(kBadFile, path, path + ": the first line is not the \"cpu\" line of /proc/stat");
    }
    for (size_t at = text.find("\ncpu"); at != std::string::npos; at = text.find("\ncpu", at + 1)) cpus_++;
    if (cpus_ == 0) cpus_ = 1;
    // Until the first interval is measured, assume the average utilisation since boot.
    watts_ = wattsAt(last_.busy, last_.total);
    statNs_ = lastNs_ = monotonicNs();
  }

  // The estimate since boot, as if the machine had a counter that never wraps: the
  // aggregate line sums every CPU's ticks, so total / cpus / CLK_TCK is the uptime.
  int readRawUj(double& rawUj) override {
    SystemCpuTimes times;
    if (int err = readTimes(times)) return err;
    double seconds = static_cast<double>(times.total) / static_cast<double>(cpus_ * sysconf(_SC_CLK_TCK));
    rawUj = wattsAt(times.busy, times.total) * seconds * 1e6;
    return 0;
  }

  // Integrates the latest power continuously, and re-reads the utilisation every 10 ms:
  // the estimate is a smooth ramp, not a staircase of 10 ms steps.
  int sample(int64_t nowNs, double& totalUj) override {
    totalUj_ += watts_ * static_cast<double>(nowNs - lastNs_) * 1e-3;  // W x ns = nJ
    lastNs_ = nowNs;
    int err = 0;
    if (nowNs - statNs_ >= kStatPeriodNs) {
      SystemCpuTimes times;
      err = readTimes(times);
      if (err == 0) {
        if (times.total > last_.total) watts_ = wattsAt(times.busy - last_.busy, times.total - last_.total);
        last_ = times;
        statNs_ = nowNs;
      }
    }
    totalUj = totalUj_;
    return err;
  }

 private:
  double wattsAt(uint64_t busy, uint64_t total) const {
    double utilisation = total > 0 ? static_cast<double>(busy) / static_cast<double>(total) : 0;
    return idleWatts_ + (maxWatts_ - idleWatts_) * utilisation;
  }

  int readTimes(SystemCpuTimes& times) const {
    char text[256];  // the first line: ten numbers of at most 20 digits
    long n = preadFull(fd_.get(), text, sizeof text, 0);
    if (n < 0) return static_cast<int>(-n);
    return parseCpuLine(text, static_cast<size_t>(n), times) ? 0 : EIO;
  }

  Fd fd_;
  double idleWatts_;
  double maxWatts_;
  long cpus_ = 0;
  SystemCpuTimes last_;      // at the last read of the file
  double watts_ = 0;   // the power estimated at the last read
  int64_t statNs_ = 0;  // when the file was last read
  int64_t lastNs_ = 0;  // when the total was last advanced
  double totalUj_ = 0;
};

}  // namespace

std::vector<DomainSpec> discoverModel(const Options& options) {
  const std::string path = options.procRoot + "/stat";
  openOrThrow(path);  // a missing or unreadable stat file is reported now, not at open
  double idle = options.modelIdleWatts;
  double max = options.modelMaxWatts;
  DomainInfo info{"package-0", SourceKind::Model, path, 0};
  return {{info, [path, idle, max] { return std::make_unique<ModelDomain>(path, idle, max); }}};
}

}  // namespace wattmeter
