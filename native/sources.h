// The sources. Each returns its domains, or throws a SourceError that says why it
// cannot be used here; sources.cc chooses among them and orders the domains.
#pragma once

#include <vector>

#include "domain.h"

namespace wattmeter {

// Linux powercap (intel-rapl) zones under <sysfsRoot>/class/powercap.
std::vector<DomainSpec> discoverPowercap(const Options& options);

// RAPL MSRs through the msr driver, one CPU per package.
std::vector<DomainSpec> discoverMsr(const Options& options);

// An estimate from CPU utilisation in <procRoot>/stat, for machines without RAPL.
std::vector<DomainSpec> discoverModel(const Options& options);

// RAPL through the kernel's power PMU (perf_event), 64-bit counts that never wrap.
std::vector<DomainSpec> discoverPerfEvent(const Options& options);
// Whether <sysfsRoot>/bus/event_source/devices/power exists.
bool hasPowerPmu(const Options& options);

// NVIDIA GPUs through NVML (dlopen of options.nvmlLibrary); GPUs left out go to warnings.
std::vector<DomainSpec> discoverNvml(const Options& options, std::vector<std::string>& warnings);

}  // namespace wattmeter
