// Chooses the source and orders its domains.
#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "error.h"
#include "sources.h"

namespace wattmeter {
namespace {

// "package-10" after "package-9": runs of digits compare as numbers.
bool naturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t endA = a.find_first_not_of("0123456789", i);
      size_t endB = b.find_first_not_of("0123456789", j);
      if (endA == std::string::npos) endA = a.size();
      if (endB == std::string::npos) endB = b.size();
      unsigned long long x = std::stoull(a.substr(i, endA - i));
      unsigned long long y = std::stoull(b.substr(j, endB - j));
      if (x != y) return x < y;
      i = endA;
      j = endB;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      i++;
      j++;
    }
  }
  return a.size() - i < b.size() - j;
}

// Packages first, then the other domains by name: the same order whatever the source or
// the order the kernel listed its zones in.
std::vector<DomainSpec> ordered(std::vector<DomainSpec> domains) {
  auto isPackage = [](const DomainSpec& d) { return d.info.name.compare(0, 8, "package-") == 0; };
  std::stable_sort(domains.begin(), domains.end(), [&](const DomainSpec& a, const DomainSpec& b) {
    if (isPackage(a) != isPackage(b)) return isPackage(a);
    return naturalLess(a.info.name, b.info.name);
  });
  return domains;
}

}  // namespace

const char* sourceName(SourceKind kind) {
  switch (kind) {
    case SourceKind::Powercap: return "powercap";
    case SourceKind::Msr: return "msr";
    case SourceKind::Model: return "model";
    case SourceKind::PerfEvent: return "perf_event";
    case SourceKind::Nvml: return "nvml";
  }
  return "?";
}

// The CPU domains: options.source, or the first usable one for auto.
static Discovery discoverCpu(const Options& options) {
  using Finder = std::vector<DomainSpec> (*)(const Options&);
  const std::pair<SourceKind, Finder> sources[] = {
      {SourceKind::Powercap, discoverPowercap},
      {SourceKind::PerfEvent, discoverPerfEvent},
      {SourceKind::Msr, discoverMsr},
      {SourceKind::Model, discoverModel},
  };
  if (options.source != "auto") {
    for (const auto& [kind, find] : sources) {
      if (options.source == sourceName(kind)) return {kind, ordered(find(options)), {}, {}};
    }
    throw std::invalid_argument("source must be auto, powercap, perf_event, msr or model; got \"" + options.source + "\"");
  }
  // auto: the first real source that has domains; the model when none has.
  std::vector<std::string> warnings;
  for (const auto& [kind, find] : sources) {
    if (kind == SourceKind::Model) break;
    // Absent on VMs and older kernels, where powercap's warning already says why.
    if (kind == SourceKind::PerfEvent && !hasPowerPmu(options)) continue;
    try {
      std::vector<DomainSpec> domains = ordered(find(options));
      // Discovery reads names and ranges only: a counter it found may still be closed to
      // this user (energy_uj is root-only since Linux 5.10). Opening each tells.
      std::vector<std::unique_ptr<EnergyDomain>> opened;
      for (const DomainSpec& domain : domains) opened.push_back(domain.open());
      return {kind, std::move(domains), warnings, std::move(opened)};
    } catch (const SourceError& error) {
      std::string why = std::string(sourceName(kind)) + ": " + error.what();
      if (kind == SourceKind::Powercap && error.code == "EACCES") {
        why += " (root only since Linux 5.10; `wattmeter read --source powercap` says how to grant access)";
      }
      warnings.push_back(std::move(why));
    }
  }
  return {SourceKind::Model, discoverModel(options), warnings, {}};
}

Discovery discover(const Options& options) {
  Discovery discovery = discoverCpu(options);
  if (options.gpu) {
    for (DomainSpec& gpu : discoverNvml(options, discovery.warnings)) discovery.domains.push_back(std::move(gpu));
  }
  return discovery;
}

std::vector<std::unique_ptr<EnergyDomain>> openAll(Discovery& discovery) {
  std::vector<std::unique_ptr<EnergyDomain>> opened = std::move(discovery.opened);
  for (size_t i = opened.size(); i < discovery.domains.size(); i++) opened.push_back(discovery.domains[i].open());
  return opened;
}

}  // namespace wattmeter
