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

// The estimate is a counter that moves when its input does. /proc/stat moves in clock
// ticks (USER_HZ, 100 a second almost everywhere), so the model reads it once a tick and
// advances only when the times did: its effective resolution is its input's, and a
// segment shorter than that is reported unresolved, as with any counter, instead of a
// smooth ramp that would claim millisecond detail nobody measured.
class ModelDomain final : public EnergyDomain {
 public:
  ModelDomain(const std::string& path, double idleWatts, double maxWatts)
      : fd_(openOrThrow(path)), idleWatts_(idleWatts), maxWatts_(maxWatts), tickHz_(sysconf(_SC_CLK_TCK)) {
    if (tickHz_ <= 0) tickHz_ = 100;
    // The whole file once: the first line for the times, the cpuN lines for the count.
    std::string text = readTextOrThrow(path);
    if (!parseCpuLine(text.data(), text.size(), last_)) {
      throw SourceError(kBadFile, path, path + ": the first line is not the \"cpu\" line of /proc/stat");
    }
    for (size_t at = text.find("\ncpu"); at != std::string::npos; at = text.find("\ncpu", at + 1)) cpus_++;
    if (cpus_ == 0) cpus_ = 1;
    readNs_ = lastNs_ = monotonicNs();
  }

  // The estimate since boot, as if the machine had a counter that never wraps: the
  // aggregate line sums every CPU's ticks, so total / cpus / CLK_TCK is the uptime.
  int readRawUj(double& rawUj) override {
    SystemCpuTimes times;
    if (int err = readTimes(times)) return err;
    double seconds = static_cast<double>(times.total) / static_cast<double>(cpus_ * tickHz_);
    rawUj = wattsAt(times.busy, times.total) * seconds * 1e6;
    return 0;
  }

  // When the times moved: the power of the utilisation between the two readings, over the
  // time between them.
  int sample(int64_t nowNs, double& totalUj) override {
    int err = 0;
    if (nowNs - readNs_ >= 1'000'000'000 / tickHz_) {
      readNs_ = nowNs;
      SystemCpuTimes times;
      err = readTimes(times);
      if (err == 0 && times.total > last_.total) {
        double watts = wattsAt(times.busy - last_.busy, times.total - last_.total);
        totalUj_ += watts * static_cast<double>(nowNs - lastNs_) * 1e-3;  // W x ns = nJ
        last_ = times;
        lastNs_ = nowNs;
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
  long tickHz_;
  long cpus_ = 0;
  SystemCpuTimes last_;       // when the times last moved
  int64_t lastNs_ = 0;  // when they were read then
  int64_t readNs_ = 0;  // when the file was last read
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
