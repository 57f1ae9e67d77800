// What every source produces: energy domains, each described (DomainInfo) and, once
// opened, read (EnergyDomain). Mirrors NativeDomain / NativeOptions in lib/native.ts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wattmeter {

enum class SourceKind { Powercap, Msr, Model, PerfEvent, Nvml };
const char* sourceName(SourceKind kind);

struct Options {
  std::string source;  // auto | powercap | perf_event | msr | model
  std::string sysfsRoot;
  std::string procRoot;
  std::string msrPath;    // one %d for the CPU number
  std::string cpuVendor;  // auto | intel | amd
  bool includeMmio = false;
  double modelIdleWatts = 0;
  double modelMaxWatts = 0;
  bool gpu = false;         // also one domain per NVIDIA GPU, through NVML
  std::string nvmlLibrary;  // what dlopen loads: libnvidia-ml.so.1 or a path
};

struct DomainInfo {
  std::string name;  // package-0, core-0, uncore-0, dram-0, psys
  SourceKind source;
  std::string path;         // the file read, as shown to the user
  double maxEnergyRangeUj;  // where the raw counter wraps; 0 for the model (never wraps)
};

// One opened domain. A sampler thread owns it alone: no method is thread-safe.
class EnergyDomain {
 public:
  virtual ~EnergyDomain() = default;

  // The counter as the hardware shows it (not wrap-corrected), in microjoules.
  // Returns 0, or an errno (EIO when the content is not a number).
  virtual int readRawUj(double& rawUj) = 0;

  // Energy since the domain was opened, wrap-corrected, in microjoules; `nowNs` is
  // CLOCK_MONOTONIC. On a read error the errno is returned and `totalUj` is the best
  // value known (a counter keeps its last one), so one bad read never corrupts the total.
  virtual int sample(int64_t nowNs, double& totalUj) = 0;
};

// A domain found by discovery, not yet opened. `open` opens and reads it once, so a
// permission or format problem is thrown (SourceError) here and not in the sampler.
struct DomainSpec {
  DomainInfo info;
  std::function<std::unique_ptr<EnergyDomain>()> open;
};

struct Discovery {
  SourceKind source;
  std::vector<DomainSpec> domains;
  std::vector<std::string> warnings;  // why `auto` passed over each real source
  // The first domains, already opened: `auto` opens a source's counters to prove they
  // are readable, and keeps them so that each is opened once.
  std::vector<std::unique_ptr<EnergyDomain>> opened;
};

// Finds the domains of options.source (auto: powercap, else perf_event where the kernel
// offers the power PMU, else msr, else model), then the GPUs' when options.gpu is set.
// Throws SourceError when the chosen source has none or cannot be used.
Discovery discover(const Options& options);

// Every domain of a discovery, opened, in order: those discovery opened, then the rest.
std::vector<std::unique_ptr<EnergyDomain>> openAll(Discovery& discovery);

}  // namespace wattmeter
