// Powercap zones: <sysfsRoot>/class/powercap/<type>:<N>[:<M>] with a `name` file. The
// directory of the control type itself (`intel-rapl`, no colon) is not a zone.
#include <cerrno>
#include <string>
#include <vector>

#include "counter.h"
#include "error.h"
#include "file.h"
#include "sources.h"

namespace wattmeter {
namespace {

bool isMmio(const std::string& zone) {
  return zone.compare(0, zone.find(':'), "intel-rapl-mmio") == 0;
}

// package-0 for a top-level zone; core-0, uncore-0, dram-0 for a sub-zone, numbered after
// the package its parent zone names (the kernel numbers sub-zones within their parent,
// not by socket). MMIO zones duplicate the package zone, so they get a -mmio suffix.
std::string domainName(const std::string& dir, const std::string& zone, const std::string& name) {
  std::string result = name;
  size_t second = zone.find(':', zone.find(':') + 1);
  if (second != std::string::npos) {
    std::string parentName = trim(readTextOrThrow(dir + "/" + zone.substr(0, second) + "/name"));
    const std::string prefix = "package-";
    std::string socket = parentName.compare(0, prefix.size(), prefix) == 0
                             ? parentName.substr(prefix.size())
                             : zone.substr(zone.find(':') + 1, second - zone.find(':') - 1);
    result += "-" + socket;
  }
  if (isMmio(zone)) result += "-mmio";
  return result;
}

uint64_t readRange(const std::string& zoneDir) {
  std::string path = zoneDir + "/max_energy_range_uj";
  std::string text = readTextOrThrow(path);
  uint64_t range = 0;
  if (!parseLeadingU64(text.data(), text.size(), range) || range == 0) {
    throw SourceError(kBadFile, path, path + ": does not hold a positive number of microjoules");
  }
  return range;
}

// Where there is no RAPL, the reason is most often a virtual machine.
const std::string kVirtual = "virtual machines rarely expose RAPL: use the model source for an estimate, or measure on the host";

}  // namespace

std::vector<DomainSpec> discoverPowercap(const Options& options) {
  const std::string dir = options.sysfsRoot + "/class/powercap";
  std::vector<std::string> entries;
  if (int err = listDirectory(dir, entries)) throw errnoError(err, dir, err == ENOENT ? "no powercap driver loaded; " + kVirtual : "");

  std::vector<DomainSpec> domains;
  for (const std::string& zone : entries) {
    if (zone.find(':') == std::string::npos) continue;
    if (isMmio(zone) && !options.includeMmio) continue;
    const std::string zoneDir = dir + "/" + zone;
    std::string name;
    if (readText(zoneDir + "/name", name) != 0) continue;  // not a zone

    // energy_uj runs from 0 to max_energy_range_uj inclusive, then wraps to 0.
    const uint64_t maxUj = readRange(zoneDir);
    Counter::Spec spec{zoneDir + "/energy_uj", Counter::Format::DecimalText, 0, maxUj + 1, 1.0};
    DomainInfo info{domainName(dir, zone, trim(name)), SourceKind::Powercap, spec.file, static_cast<double>(maxUj)};
    domains.push_back({info, [spec] { return Counter::open(spec); }});
  }
  if (domains.empty()) throw SourceError(kNoDomains, dir, dir + " has no RAPL zones (" + kVirtual + ")");
  return domains;
}

}  // namespace wattmeter
