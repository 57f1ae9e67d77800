// NVIDIA GPUs through NVML, loaded with dlopen at run time so that wattmeter neither
// builds nor links against CUDA: one domain per GPU (gpu-N, N the NVML index, which is
// PCI bus order like nvidia-smi), read from the sampler thread alongside the CPU domains.
// nvmlDeviceGetTotalEnergyConsumption gives millijoules since the driver loaded, in 64
// bits, on Volta and newer; GPUs without it are left out with a warning.
#include <dlfcn.h>

#include <cerrno>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "sources.h"

namespace wattmeter {
namespace {

constexpr const char* kNoNvml = "WATTMETER_NO_NVML";

// The few NVML declarations used (nvml.h), so no header is needed to build.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr nvmlReturn_t kNvmlNotSupported = 3;

// The library, loaded and initialised; every GPU domain of a discovery shares it, and the
// last one to go shuts NVML down (nvmlInit/nvmlShutdown are reference counted by NVML).
class Nvml {
 public:
  static std::shared_ptr<Nvml> load(const std::string& library) {
    void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      throw SourceError(kNoNvml, library,
                        "cannot load NVML (" + std::string(dlerror()) +
                            "): GPU energy needs the NVIDIA driver, which installs libnvidia-ml.so.1.");
    }
    std::shared_ptr<Nvml> nvml(new Nvml(library, handle));
    nvml->init();
    return nvml;
  }

  ~Nvml() {
    if (initialised_) shutdown_();
    dlclose(handle_);
  }

  // "NVML <call> failed: <reason>".
  SourceError error(const std::string& call, nvmlReturn_t result) const {
    const char* reason = errorString_ ? errorString_(result) : nullptr;
    return SourceError(kNoNvml, library,
                       library + ": " + call + " failed: " + (reason ? reason : "NVML error " + std::to_string(result)));
  }

  unsigned count() const {
    unsigned n = 0;
    if (nvmlReturn_t r = getCount_(&n)) throw error("nvmlDeviceGetCount_v2", r);
    return n;
  }

  nvmlDevice_t device(unsigned index) const {
    nvmlDevice_t device = nullptr;
    if (nvmlReturn_t r = getHandle_(index, &device)) throw error("nvmlDeviceGetHandleByIndex_v2(" + std::to_string(index) + ")", r);
    return device;
  }

  nvmlReturn_t energyMj(nvmlDevice_t device, unsigned long long& mj) const { return getEnergy_(device, &mj); }

  const std::string library;

 private:
  Nvml(std::string path, void* handle) : library(std::move(path)), handle_(handle) {}

  template <typename Fn>
  void bind(Fn& fn, const char* name) {
    fn = reinterpret_cast<Fn>(dlsym(handle_, name));
    if (!fn) throw SourceError(kNoNvml, library, library + " has no " + name + ": not NVML, or an NVML too old for GPU energy");
  }

  void init() {
    bind(init_, "nvmlInit_v2");
    bind(shutdown_, "nvmlShutdown");
    bind(getCount_, "nvmlDeviceGetCount_v2");
    bind(getHandle_, "nvmlDeviceGetHandleByIndex_v2");
    bind(getEnergy_, "nvmlDeviceGetTotalEnergyConsumption");
    errorString_ = reinterpret_cast<const char* (*)(nvmlReturn_t)>(dlsym(handle_, "nvmlErrorString"));  // optional
    if (nvmlReturn_t r = init_()) throw error("nvmlInit_v2", r);
    initialised_ = true;
  }

  void* handle_;
  bool initialised_ = false;
  nvmlReturn_t (*init_)() = nullptr;
  nvmlReturn_t (*shutdown_)() = nullptr;
  nvmlReturn_t (*getCount_)(unsigned*) = nullptr;
  nvmlReturn_t (*getHandle_)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*getEnergy_)(nvmlDevice_t, unsigned long long*) = nullptr;
  const char* (*errorString_)(nvmlReturn_t) = nullptr;
};

class NvmlDomain final : public EnergyDomain {
 public:
  NvmlDomain(std::shared_ptr<Nvml> nvml, unsigned index) : nvml_(std::move(nvml)), device_(nvml_->device(index)) {
    if (nvmlReturn_t r = nvml_->energyMj(device_, first_)) {
      throw nvml_->error("nvmlDeviceGetTotalEnergyConsumption(" + std::to_string(index) + ")", r);
    }
    last_ = first_;
  }

  int readRawUj(double& rawUj) override {
    unsigned long long mj = 0;
    if (nvml_->energyMj(device_, mj) != kNvmlSuccess) return EIO;
    rawUj = static_cast<double>(mj) * 1000;
    return 0;
  }

  int sample(int64_t, double& totalUj) override {
    unsigned long long mj = 0;
    const int err = nvml_->energyMj(device_, mj) == kNvmlSuccess ? 0 : EIO;
    if (err == 0) last_ = mj;
    totalUj = static_cast<double>(last_ - first_) * 1000;
    return err;
  }

 private:
  std::shared_ptr<Nvml> nvml_;
  nvmlDevice_t device_;
  unsigned long long first_ = 0;
  unsigned long long last_ = 0;
};

}  // namespace

std::vector<DomainSpec> discoverNvml(const Options& options, std::vector<std::string>& warnings) {
  std::shared_ptr<Nvml> nvml = Nvml::load(options.nvmlLibrary);
  const unsigned count = nvml->count();
  std::vector<DomainSpec> domains;
  for (unsigned i = 0; i < count; i++) {
    unsigned long long mj = 0;
    nvmlReturn_t r = nvml->energyMj(nvml->device(i), mj);
    if (r == kNvmlNotSupported) {
      warnings.push_back("nvml: GPU " + std::to_string(i) + " does not report its total energy (Volta and newer do); left out");
      continue;
    }
    if (r != kNvmlSuccess) throw nvml->error("nvmlDeviceGetTotalEnergyConsumption(" + std::to_string(i) + ")", r);
    // Millijoules in 64 bits: the counter wraps at 2^64 mJ.
    DomainInfo info{"gpu-" + std::to_string(i), SourceKind::Nvml, nvml->library + "#" + std::to_string(i), std::ldexp(1000.0, 64)};
    domains.push_back({info, [nvml, i] { return std::make_unique<NvmlDomain>(nvml, i); }});
  }
  if (domains.empty()) {
    throw SourceError(kNoNvml, nvml->library,
                      nvml->library + (count == 0 ? ": NVML sees no GPU" : ": no GPU reports its total energy (Volta and newer do)"));
  }
  return domains;
}

}  // namespace wattmeter
