// RAPL through the kernel's `power` PMU (arch/x86/events/rapl.c), read with perf_event:
// <sysfsRoot>/bus/event_source/devices/power/{type,cpumask,events/energy-*}. Each event
// is opened system-wide on one CPU per package (the PMU's cpumask lists them); the
// kernel accumulates the 32-bit hardware register into a 64-bit count of `.scale` joules
// (2^-32 J), so the count never wraps and the kernel applies every unit quirk itself.
//
// System-wide events need CAP_PERFMON (or CAP_SYS_ADMIN), or kernel.perf_event_paranoid
// at 0 or below.
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "file.h"
#include "sources.h"

namespace wattmeter {
namespace {

constexpr const char* kPerfDenied = "WATTMETER_PERF_EVENT_DENIED";

std::string pmuDir(const Options& options) { return options.sysfsRoot + "/bus/event_source/devices/power"; }

uint64_t parseNumberOrThrow(const std::string& path, const std::string& text, int base) {
  const std::string value = trim(text);
  char* end = nullptr;
  errno = 0;
  unsigned long long number = std::strtoull(value.c_str(), &end, base);
  if (value.empty() || errno != 0 || *end != '\0') throw SourceError(kBadFile, path, path + ": \"" + value + "\" is not a number");
  return number;
}

// "0", "0,36", "0-1": the CPUs of a cpumask list.
std::vector<int> parseCpuList(const std::string& path, const std::string& text) {
  std::vector<int> cpus;
  const std::string list = trim(text);
  for (size_t at = 0; at < list.size();) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(at, comma - at);
    const size_t dash = item.find('-');
    const int first = static_cast<int>(parseNumberOrThrow(path, item.substr(0, dash), 10));
    const int last = dash == std::string::npos ? first : static_cast<int>(parseNumberOrThrow(path, item.substr(dash + 1), 10));
    for (int cpu = first; cpu <= last; cpu++) cpus.push_back(cpu);
    at = comma + 1;
  }
  if (cpus.empty()) throw SourceError(kBadFile, path, path + ": lists no CPU");
  return cpus;
}

// "event=0x02": the power PMU's only format field, which is config:0-7.
uint64_t parseEventConfig(const std::string& path, const std::string& text) {
  const std::string term = trim(text);
  const std::string prefix = "event=";
  if (term.compare(0, prefix.size(), prefix) != 0 || term.find(',') != std::string::npos) {
    throw SourceError(kBadFile, path, path + ": expected \"event=<number>\", got \"" + term + "\"");
  }
  return parseNumberOrThrow(path, term.substr(prefix.size()), 0);
}

// Our domain name for a RAPL event of the package `pkg`; empty for events we do not know.
std::string domainName(const std::string& event, int pkg, bool firstPackage) {
  const std::string socket = std::to_string(pkg);
  if (event == "energy-pkg") return "package-" + socket;
  if (event == "energy-cores") return "core-" + socket;
  if (event == "energy-gpu") return "uncore-" + socket;  // PP1, powercap's "uncore"
  if (event == "energy-ram") return "dram-" + socket;
  if (event == "energy-psys") return firstPackage ? "psys" : "";  // one per platform
  return "";
}

struct EventSpec {
  std::string file;  // events/energy-*, shown to the user
  uint32_t type;
  uint64_t config;
  int cpu;
  double ujPerCount;
};

std::string describe(const EventSpec& spec) {
  return "perf_event_open(" + spec.file + ", cpu " + std::to_string(spec.cpu) + ")";
}

// One system-wide counting event on one CPU. Throws SourceError.
Fd openEvent(const EventSpec& spec) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = spec.type;
  attr.config = spec.config;
  long fd = syscall(SYS_perf_event_open, &attr, -1, spec.cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  const int err = errno;
  if (err == EACCES || err == EPERM) {
    std::string paranoid = "?";
    readText("/proc/sys/kernel/perf_event_paranoid", paranoid);
    throw SourceError(kPerfDenied, spec.file,
                      describe(spec) + ": " + std::strerror(err) +
                          ". System-wide RAPL events need CAP_PERFMON (sudo setcap cap_perfmon=ep \"$(readlink -f \"$(which node)\")\"), "
                          "root, or kernel.perf_event_paranoid <= 0 (now " + trim(paranoid) + "; sudo sysctl kernel.perf_event_paranoid=0).");
  }
  char config[32];
  std::snprintf(config, sizeof config, "0x%llx", static_cast<unsigned long long>(spec.config));
  throw SourceError(errnoName(err), spec.file,
                    describe(spec) + ": " + std::strerror(err) + " (type " + std::to_string(spec.type) + ", config " + config +
                        "): the kernel has no such event");
}

class PerfEventDomain final : public EnergyDomain {
 public:
  explicit PerfEventDomain(const EventSpec& spec) : spec_(spec), fd_(openEvent(spec)) {
    if (int err = readCount(first_)) throw errnoError(err, spec.file, "reading " + describe(spec));
  }

  int readRawUj(double& rawUj) override {
    uint64_t count = 0;
    if (int err = readCount(count)) return err;
    rawUj = static_cast<double>(count) * spec_.ujPerCount;
    return 0;
  }

  // 64 bits of 2^-32 J never wrap in practice (2^32 J: 680 years at 200 W).
  int sample(int64_t, double& totalUj) override {
    uint64_t count = 0;
    int err = readCount(count);
    if (err == 0) last_ = count;
    totalUj = static_cast<double>(last_ - first_) * spec_.ujPerCount;
    return err;
  }

 private:
  int readCount(uint64_t& count) const {
    ssize_t n;
    do n = read(fd_.get(), &count, sizeof count);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    return n == sizeof count ? 0 : EIO;
  }

  EventSpec spec_;
  Fd fd_;
  uint64_t first_ = 0;
  uint64_t last_ = 0;
};

}  // namespace

bool hasPowerPmu(const Options& options) { return access(pmuDir(options).c_str(), F_OK) == 0; }

std::vector<DomainSpec> discoverPerfEvent(const Options& options) {
  const std::string dir = pmuDir(options);
  const std::string typePath = dir + "/type";
  std::string text;
  if (int err = readText(typePath, text)) {
    throw errnoError(err, typePath, err == ENOENT ? "no RAPL PMU: this kernel or machine offers no power events" : "");
  }
  const auto type = static_cast<uint32_t>(parseNumberOrThrow(typePath, text, 10));
  const std::string maskPath = dir + "/cpumask";
  const std::vector<int> cpus = parseCpuList(maskPath, readTextOrThrow(maskPath));

  std::vector<std::string> events;
  const std::string eventsDir = dir + "/events";
  if (int err = listDirectory(eventsDir, events)) throw errnoError(err, eventsDir);

  std::vector<DomainSpec> domains;
  for (size_t i = 0; i < cpus.size(); i++) {
    // The package of each CPU in the mask; its position in the mask when topology is absent.
    int pkg = static_cast<int>(i);
    std::string id;
    const std::string topology = options.sysfsRoot + "/devices/system/cpu/cpu" + std::to_string(cpus[i]) + "/topology/physical_package_id";
    if (readText(topology, id) == 0) pkg = static_cast<int>(parseNumberOrThrow(topology, id, 10));
    for (const std::string& event : events) {
      const std::string name = domainName(event, pkg, i == 0);
      if (name.empty()) continue;  // .scale and .unit files, events we do not know
      const std::string file = eventsDir + "/" + event;
      const std::string unit = trim(readTextOrThrow(file + ".unit"));
      if (unit != "Joules") throw SourceError(kBadFile, file + ".unit", file + ".unit: expected Joules, got \"" + unit + "\"");
      const std::string scaleText = trim(readTextOrThrow(file + ".scale"));
      const double scale = std::strtod(scaleText.c_str(), nullptr);
      if (!(scale > 0)) throw SourceError(kBadFile, file + ".scale", file + ".scale: \"" + scaleText + "\" is not a positive number");
      EventSpec spec{file, type, parseEventConfig(file, readTextOrThrow(file)), cpus[i], scale * 1e6};
      // The 64-bit count wraps at 2^64 units: 2^32 J with the usual 2^-32 J scale.
      DomainInfo info{name, SourceKind::PerfEvent, file, std::ldexp(spec.ujPerCount, 64)};
      domains.push_back({info, [spec] { return std::make_unique<PerfEventDomain>(spec); }});
    }
  }
  if (domains.empty()) throw SourceError(kNoDomains, eventsDir, eventsDir + " has no energy-* events");
  // auto must be able to move on to the next source when the PMU is there but refused
  // (perf_event_paranoid), so it tries the system call now; an explicit choice fails at open.
  if (options.source == "auto") domains.front().open();
  return domains;
}

}  // namespace wattmeter
