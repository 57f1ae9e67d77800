// RAPL through model-specific registers (/dev/cpu/<cpu>/msr, the msr driver): one CPU per
// package, the energy unit from that package's unit register, a domain for every energy
// status register that can be read. Register addresses: arch/x86/include/asm/msr-index.h;
// units and quirks: drivers/powercap/intel_rapl_common.c.
//
// AMD also has a per-core energy register (0xC001029A). It is left out: it would be one
// domain per core, and the package register already covers the cores.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "counter.h"
#include "error.h"
#include "file.h"
#include "sources.h"

namespace wattmeter {
namespace {

constexpr uint64_t kIntelPowerUnit = 0x606;
constexpr uint64_t kIntelPackage = 0x611;
constexpr uint64_t kIntelDram = 0x619;
constexpr uint64_t kIntelPp0 = 0x639;  // cores
constexpr uint64_t kIntelPp1 = 0x641;  // uncore (the integrated GPU on client parts)
constexpr uint64_t kIntelPlatform = 0x64D;  // psys, one per platform
constexpr uint64_t kAmdPowerUnit = 0xC0010299;
constexpr uint64_t kAmdPackage = 0xC001029B;

// Energy status registers are 32 bits wide.
constexpr uint64_t kRegisterRange = uint64_t{1} << 32;

// Intel family-6 models whose DRAM domain counts in a fixed 2^-16 J (15.3 uJ) whatever the
// unit register says: intel_rapl_common.c's rapl_defaults_hsw_server users. Sapphire and
// Emerald Rapids dropped it (the kernel removed their fixed DRAM unit in 2023).
bool hasFixedDramUnit(int model) {
  switch (model) {
    case 0x3F:  // Haswell-X
    case 0x4F:  // Broadwell-X
    case 0x56:  // Broadwell-D
    case 0x55:  // Skylake-X, Cascade Lake, Cooper Lake
    case 0x6A:  // Ice Lake-X
    case 0x6C:  // Ice Lake-D
    case 0x57:  // Knights Landing
    case 0x85:  // Knights Mill
      return true;
    default:
      return false;
  }
}

// Sapphire and Emerald Rapids count psys energy in whole joules (rapl_defaults_spr_server).
bool hasJoulePsysUnit(int model) { return model == 0x8F || model == 0xCF; }

struct Cpu {
  bool amd = false;
  int family = -1;  // -1: unknown (cpuinfo unreadable and the vendor given as an option)
  int model = -1;
};

// "key\t: value" of the first processor in cpuinfo.
std::string cpuinfoField(const std::string& cpuinfo, const std::string& key) {
  size_t at = 0;
  while (at < cpuinfo.size()) {
    size_t end = cpuinfo.find('\n', at);
    if (end == std::string::npos) end = cpuinfo.size();
    std::string line = cpuinfo.substr(at, end - at);
    size_t colon = line.find(':');
    if (colon != std::string::npos && trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
    at = end + 1;
  }
  return "";
}

Cpu identifyCpu(const Options& options) {
  const std::string path = options.procRoot + "/cpuinfo";
  std::string cpuinfo;
  int err = readText(path, cpuinfo);
  if (err != 0 && options.cpuVendor == "auto") throw errnoError(err, path, "needed to tell Intel from AMD");

  Cpu cpu;
  std::string vendor = cpuinfoField(cpuinfo, "vendor_id");
  if (options.cpuVendor != "auto") {
    cpu.amd = options.cpuVendor == "amd";
  } else if (vendor == "AuthenticAMD" || vendor == "HygonGenuine") {
    cpu.amd = true;
  } else if (vendor != "GenuineIntel") {
    throw SourceError(kUnsupportedCpu, path,
                      "RAPL MSRs exist on Intel and AMD CPUs; " + path + " says vendor_id \"" + vendor + "\"");
  }
  std::string family = cpuinfoField(cpuinfo, "cpu family");
  std::string model = cpuinfoField(cpuinfo, "model");
  if (!family.empty()) cpu.family = std::atoi(family.c_str());
  if (!model.empty()) cpu.model = std::atoi(model.c_str());
  if (cpu.amd && cpu.family >= 0 && cpu.family < 0x17) {
    throw SourceError(kUnsupportedCpu, path,
                      "AMD CPU family " + std::to_string(cpu.family) +
                          " has no RAPL MSRs (they start with family 17h, Zen)");
  }
  return cpu;
}

// Package id -> its first CPU, from <sysfsRoot>/devices/system/cpu/cpu*/topology.
std::map<int, int> firstCpuOfEachPackage(const Options& options) {
  const std::string dir = options.sysfsRoot + "/devices/system/cpu";
  std::vector<std::string> entries;
  if (int err = listDirectory(dir, entries)) throw errnoError(err, dir);
  std::map<int, int> packages;
  for (const std::string& entry : entries) {
    if (entry.size() < 4 || entry.compare(0, 3, "cpu") != 0 ||
        entry.find_first_not_of("0123456789", 3) != std::string::npos) {
      continue;
    }
    std::string text;
    // Offline CPUs have no topology directory: they cannot be read anyway.
    if (readText(dir + "/" + entry + "/topology/physical_package_id", text) != 0) continue;
    int cpu = std::atoi(entry.c_str() + 3);
    int package = std::atoi(text.c_str());
    auto found = packages.find(package);
    if (found == packages.end() || cpu < found->second) packages[package] = cpu;
  }
  if (packages.empty()) throw SourceError(kNoDomains, dir, dir + " lists no online CPU with a topology");
  return packages;
}

std::string devicePath(const std::string& pattern, int cpu) {
  std::string path = pattern;
  size_t at = path.find("%d");
  if (at != std::string::npos) path.replace(at, 2, std::to_string(cpu));
  return path;
}

std::string registerPath(const std::string& device, uint64_t reg) {
  char hex[24];
  std::snprintf(hex, sizeof hex, "@0x%llx", static_cast<unsigned long long>(reg));
  return device + hex;
}

// A register that cannot be read whole (EIO from the driver, or the end of a fake file)
// does not exist on this CPU.
bool readRegister(const Fd& fd, uint64_t reg, uint64_t& value) {
  return preadFull(fd.get(), &value, sizeof value, reg) == static_cast<long>(sizeof value);
}

}  // namespace

std::vector<DomainSpec> discoverMsr(const Options& options) {
  const Cpu cpu = identifyCpu(options);
  const bool intel6 = !cpu.amd && cpu.family == 6;
  std::vector<DomainSpec> domains;
  bool first = true;
  for (const auto& [package, cpuNumber] : firstCpuOfEachPackage(options)) {
    const std::string device = devicePath(options.msrPath, cpuNumber);
    Fd fd;
    if (int err = openReadOnly(device, fd)) {
      throw errnoError(err, device,
                       err == ENOENT                     ? "msr module not loaded"
                       : err == EACCES || err == EPERM ? "reading MSRs needs CAP_SYS_RAWIO"
                                                         : "");
    }
    const uint64_t unitRegister = cpu.amd ? kAmdPowerUnit : kIntelPowerUnit;
    uint64_t unit = 0;
    if (!readRegister(fd, unitRegister, unit)) {
      std::string path = registerPath(device, unitRegister);
      throw SourceError(kUnsupportedCpu, path, path + " cannot be read: this CPU (or VM) exposes no RAPL MSRs");
    }
    // Energy status unit: bits 12:8, one count = 2^-ESU J.
    const double ujPerCount = 1e6 / std::ldexp(1.0, static_cast<int>((unit >> 8) & 0x1f));
    const std::string n = std::to_string(package);

    auto add = [&](uint64_t reg, const std::string& name, double scale) {
      uint64_t value = 0;
      if (!readRegister(fd, reg, value)) return;
      Counter::Spec spec{device, Counter::Format::Register32, reg, kRegisterRange, scale};
      DomainInfo info{name, SourceKind::Msr, registerPath(device, reg), static_cast<double>(kRegisterRange) * scale};
      domains.push_back({info, [spec] { return Counter::open(spec); }});
    };
    if (cpu.amd) {
      add(kAmdPackage, "package-" + n, ujPerCount);
    } else {
      add(kIntelPackage, "package-" + n, ujPerCount);
      add(kIntelPp0, "core-" + n, ujPerCount);
      add(kIntelPp1, "uncore-" + n, ujPerCount);
      add(kIntelDram, "dram-" + n, intel6 && hasFixedDramUnit(cpu.model) ? 1e6 / 65536.0 : ujPerCount);
      if (first) add(kIntelPlatform, "psys", intel6 && hasJoulePsysUnit(cpu.model) ? 1e6 : ujPerCount);
    }
    first = false;
  }
  if (domains.empty()) {
    throw SourceError(kNoDomains, options.msrPath, "no RAPL energy register could be read through " + options.msrPath);
  }
  return domains;
}

}  // namespace wattmeter
