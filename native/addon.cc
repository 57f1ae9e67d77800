// The Node-API boundary: options in, plain objects out, ticks drained into a Float64Array
// the caller provides.
// Per-environment by construction (Napi::Addon, no globals), so the addon can be loaded
// by several worker threads at once.
#include <napi.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "clock.h"
#include "cputime.h"
#include "domain.h"
#include "error.h"
#include "sampler.h"

namespace wattmeter {
namespace {

// Runs a binding's body, turning C++ errors into JavaScript ones: node-addon-api only
// forwards Napi::Error, and anything else escaping a callback would abort the process.
template <typename Body>
auto guarded(Napi::Env env, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const SourceError& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, e.code));
    error.Set("path", Napi::String::New(env, e.path));
    throw error;
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    // In practice the ring, sized by the caller: say which knob turns it down.
    Napi::Error error = Napi::Error::New(env, "not enough memory for the ring buffer: lower bufferCapacity (WATTMETER_BUFFER_CAPACITY, --buffer-capacity)");
    error.Set("code", Napi::String::New(env, "ENOMEM"));
    throw error;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Value property(const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) throw std::invalid_argument(std::string("options.") + key + " is missing");
  return value;
}

void read(const Napi::Object& o, const char* key, std::string& into) {
  Napi::Value v = property(o, key);
  if (!v.IsString()) throw std::invalid_argument(std::string("options.") + key + " must be a string");
  into = v.As<Napi::String>().Utf8Value();
}

void read(const Napi::Object& o, const char* key, double& into) {
  Napi::Value v = property(o, key);
  if (!v.IsNumber()) throw std::invalid_argument(std::string("options.") + key + " must be a number");
  into = v.As<Napi::Number>().DoubleValue();
}

void read(const Napi::Object& o, const char* key, bool& into) {
  Napi::Value v = property(o, key);
  if (!v.IsBoolean()) throw std::invalid_argument(std::string("options.") + key + " must be a boolean");
  into = v.As<Napi::Boolean>().Value();
}

// One option the addon reads: its key and where it goes. Each key is declared here once;
// OPTION_KEYS lists them, so a test can hold them to what lib/options.ts sends.
template <typename Struct>
struct Field {
  const char* key;
  std::variant<std::string Struct::*, double Struct::*, bool Struct::*> member;
};

template <typename Struct, size_t N>
Struct readFields(const Napi::Object& o, const Field<Struct> (&fields)[N]) {
  Struct into{};
  for (const Field<Struct>& field : fields) {
    std::visit([&](auto member) { read(o, field.key, into.*member); }, field.member);
  }
  return into;
}

const Field<Options> kOptionFields[] = {
    {"source", &Options::source},
    {"sysfsRoot", &Options::sysfsRoot},
    {"procRoot", &Options::procRoot},
    {"msrPath", &Options::msrPath},
    {"cpuVendor", &Options::cpuVendor},
    {"includeMmio", &Options::includeMmio},
    {"modelIdleWatts", &Options::modelIdleWatts},
    {"modelMaxWatts", &Options::modelMaxWatts},
    {"gpu", &Options::gpu},
    {"nvmlLibrary", &Options::nvmlLibrary},
};

// The Sampler constructor's options besides Options, as they arrive: capacity is a
// number until it is checked, then a size_t in SamplerConfig.
struct SamplerFields {
  double rateHz;
  double capacity;
  bool realtime;
};

const Field<SamplerFields> kSamplerFields[] = {
    {"rateHz", &SamplerFields::rateHz},
    {"capacity", &SamplerFields::capacity},
    {"realtime", &SamplerFields::realtime},
};

Napi::Object objectArgument(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw std::invalid_argument("expected an options object");
  return info[0].As<Napi::Object>();
}

Options parseOptions(const Napi::Object& o) { return readFields(o, kOptionFields); }

SamplerConfig parseSamplerConfig(const Napi::Object& o) {
  SamplerFields f = readFields(o, kSamplerFields);
  if (!(f.rateHz >= 1 && f.rateHz <= kMaxRateHz)) {
    throw std::invalid_argument("options.rateHz must be between 1 and " + std::to_string(static_cast<int>(kMaxRateHz)));
  }
  if (!(f.capacity >= 2 && f.capacity <= 1e9)) throw std::invalid_argument("options.capacity must be between 2 and 1e9 ticks");
  return SamplerConfig{f.rateHz, static_cast<size_t>(f.capacity), f.realtime};
}

Napi::Array stringArray(Napi::Env env, const std::vector<std::string>& strings) {
  Napi::Array array = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); i++) array.Set(i, Napi::String::New(env, strings[i]));
  return array;
}

// { source, domains, warnings }: the NativeDiscovery of lib/native.ts.
Napi::Object discoveryObject(Napi::Env env, const Discovery& discovery) {
  Napi::Array domains = Napi::Array::New(env, discovery.domains.size());
  for (size_t i = 0; i < discovery.domains.size(); i++) {
    const DomainInfo& d = discovery.domains[i].info;
    Napi::Object domain = Napi::Object::New(env);
    domain.Set("name", d.name);
    domain.Set("source", sourceName(d.source));
    domain.Set("path", d.path);
    domain.Set("maxEnergyRangeUj", d.maxEnergyRangeUj);
    domains.Set(i, domain);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("source", sourceName(discovery.source));
  result.Set("domains", domains);
  result.Set("warnings", stringArray(env, discovery.warnings));
  return result;
}

// The drains' one argument: the caller's memory to drain into.
Napi::Float64Array float64Argument(const Napi::CallbackInfo& info, const char* method) {
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw std::invalid_argument(std::string(method) + "(into) needs a Float64Array");
  }
  return info[0].As<Napi::Float64Array>();
}

Napi::Value toJs(Napi::Env env, bool value) { return Napi::Boolean::New(env, value); }
Napi::Value toJs(Napi::Env env, double value) { return Napi::Number::New(env, value); }
// Counts stay below 2^53 for millennia at 100 kHz: doubles hold them exactly.
Napi::Value toJs(Napi::Env env, uint64_t value) { return Napi::Number::New(env, static_cast<double>(value)); }
Napi::Value toJs(Napi::Env env, const std::vector<std::string>& value) { return stringArray(env, value); }

Napi::Value toJs(Napi::Env env, const std::vector<uint64_t>& value) {
  Napi::Array array = Napi::Array::New(env, value.size());
  for (size_t i = 0; i < value.size(); i++) array.Set(i, toJs(env, value[i]));
  return array;
}

template <auto Member>
Napi::Value statsMember(Napi::Env env, const SamplerStats& s) {
  return toJs(env, s.*Member);
}

Napi::Value latenessObject(Napi::Env env, const SamplerStats& s) {
  Napi::Object lateness = Napi::Object::New(env);
  lateness.Set("p50", s.latenessP50Us);
  lateness.Set("p99", s.latenessP99Us);
  lateness.Set("max", s.latenessMaxUs);
  return lateness;
}

// Each key of a stats() object (NativeStats in lib/stats.ts) and how it is made, declared
// here once; STATS_KEYS lists them, so a test can hold them to the TypeScript list.
const struct {
  const char* key;
  Napi::Value (*value)(Napi::Env, const SamplerStats&);
} kStatsFields[] = {
    {"running", statsMember<&SamplerStats::running>},
    {"ticks", statsMember<&SamplerStats::ticks>},
    {"dropped", statsMember<&SamplerStats::dropped>},
    {"overruns", statsMember<&SamplerStats::overruns>},
    {"readErrors", statsMember<&SamplerStats::readErrors>},
    {"ticksSharingMs", statsMember<&SamplerStats::ticksSharingMs>},
    {"elapsedS", statsMember<&SamplerStats::elapsedS>},
    {"latenessUs", latenessObject},
    {"changes", statsMember<&SamplerStats::changes>},
    {"realtime", statsMember<&SamplerStats::realtime>},
    {"settings", statsMember<&SamplerStats::settings>},
    {"notes", statsMember<&SamplerStats::notes>},
};

Napi::Object statsObject(Napi::Env env, const SamplerStats& s) {
  Napi::Object result = Napi::Object::New(env);
  for (const auto& field : kStatsFields) result.Set(field.key, field.value(env, s));
  return result;
}

// The keys of tables like the ones above, in order: OPTION_KEYS and STATS_KEYS.
template <typename Entry, size_t N>
void appendKeys(std::vector<std::string>& keys, const Entry (&table)[N]) {
  for (const Entry& entry : table) keys.push_back(entry.key);
}

std::vector<std::string> optionKeys() {
  std::vector<std::string> keys;
  appendKeys(keys, kOptionFields);
  appendKeys(keys, kSamplerFields);
  return keys;
}

std::vector<std::string> statsKeys() {
  std::vector<std::string> keys;
  appendKeys(keys, kStatsFields);
  return keys;
}

class SamplerWrap : public Napi::ObjectWrap<SamplerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Sampler",
                       {
                           InstanceMethod<&SamplerWrap::start>("start"),
                           InstanceMethod<&SamplerWrap::stop>("stop"),
                           InstanceMethod<&SamplerWrap::close>("close"),
                           InstanceMethod<&SamplerWrap::pending>("pending"),
                           InstanceMethod<&SamplerWrap::drain>("drain"),
                           InstanceMethod<&SamplerWrap::stats>("stats"),
                           InstanceMethod<&SamplerWrap::nowMs>("nowMs"),
                           InstanceMethod<&SamplerWrap::openCpuTimes>("openCpuTimes"),
                           InstanceMethod<&SamplerWrap::trackCpu>("trackCpu"),
                           InstanceMethod<&SamplerWrap::untrackCpu>("untrackCpu"),
                           InstanceMethod<&SamplerWrap::pendingCpu>("pendingCpu"),
                           InstanceMethod<&SamplerWrap::drainCpu>("drainCpu"),
                           InstanceMethod<&SamplerWrap::cpuStats>("cpuStats"),
                       });
  }

  explicit SamplerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SamplerWrap>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      Napi::Object options = objectArgument(info);
      SamplerConfig config = parseSamplerConfig(options);
      Discovery discovery = discover(parseOptions(options));
      domainCount_ = discovery.domains.size();
      // Opening reads every counter once: a permission error is thrown here, not later.
      sampler_ = std::make_unique<Sampler>(openAll(discovery), config);

      Napi::Object description = discoveryObject(env, discovery);
      Napi::Object self = info.This().As<Napi::Object>();
      for (const char* key : {"source", "domains", "warnings"}) {
        self.DefineProperty(Napi::PropertyDescriptor::Value(key, description.Get(key), napi_enumerable));
      }
    });
    // A sampler left open must not outlive its environment (a worker ending, the process
    // exiting): the finalizer may run late or never, the cleanup hook always runs.
    napi_add_env_cleanup_hook(env, &SamplerWrap::cleanup, this);
    hooked_ = true;
  }

  ~SamplerWrap() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), &SamplerWrap::cleanup, this);
  }

 private:
  static void cleanup(void* self) {
    auto* wrap = static_cast<SamplerWrap*>(self);
    wrap->hooked_ = false;  // a hook runs once; removing it afterwards would be an error
    wrap->cpu_.reset();
    wrap->sampler_.reset();
  }

  Sampler& open(Napi::Env env) {
    if (!sampler_) throw Napi::Error::New(env, "wattmeter: this sampler is closed");
    return *sampler_;
  }

  void start(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] {
      open(info.Env()).start();
      if (cpu_) cpu_->start();
    });
  }

  void stop(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] {
      if (cpu_) cpu_->stop();
      open(info.Env()).stop();
    });
  }

  // Stops the thread, closes the counters and frees the ring. Safe to call twice.
  void close(const Napi::CallbackInfo&) {
    cpu_.reset();
    sampler_.reset();
  }

  // The CPU-time thread (cputime.h), on this sampler's clock, started and stopped with it.
  void openCpuTimes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      Sampler& sampler = open(env);
      if (cpu_) throw std::invalid_argument("CPU times are already open");
      Napi::Object o = objectArgument(info);
      CpuTimesConfig config{};
      double capacity = 0;
      bool rootCgroupV2 = false;
      read(o, "procStat", config.procStat);
      read(o, "rootCgroup", config.rootCgroup);
      read(o, "rootCgroupV2", rootCgroupV2);
      read(o, "processRateHz", config.processRateHz);
      read(o, "cgroupRateHz", config.cgroupRateHz);
      read(o, "capacity", capacity);
      if (!(config.processRateHz >= 0.1 && config.processRateHz <= 1000 && config.cgroupRateHz >= 0.1 && config.cgroupRateHz <= 1000)) {
        throw std::invalid_argument("CPU-time rates must be between 0.1 and 1000 Hz");
      }
      if (!(capacity >= 1024 && capacity <= 1e8)) throw std::invalid_argument("options.capacity must be between 1024 and 1e8 records");
      config.rootCgroupFormat = rootCgroupV2 ? CpuFormat::CgroupV2 : CpuFormat::CgroupV1;
      config.capacity = static_cast<size_t>(capacity);
      config.realtimeOffsetNs = sampler.clockOffsetNs();
      cpu_ = std::make_unique<CpuTimes>(config);
      if (sampler.stats().running) cpu_->start();
    });
  }

  CpuTimes& cpu(Napi::Env env) {
    open(env);
    if (!cpu_) throw Napi::Error::New(env, "wattmeter: CPU times are not open");
    return *cpu_;
  }

  // trackCpu(slot, format, path, parentSlot = -1): '' when tracked, else the errno name; and the start time.
  Napi::Value trackCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsString()) {
        throw std::invalid_argument("trackCpu(slot, format, path)");
      }
      int slot = info[0].As<Napi::Number>().Int32Value();
      std::string name = info[1].As<Napi::String>().Utf8Value();
      CpuFormat format = name == "process" ? CpuFormat::ProcessStat : name == "cgroup2" ? CpuFormat::CgroupV2 : CpuFormat::CgroupV1;
      if (slot < 0 || (name != "process" && name != "cgroup2" && name != "cgroup1")) throw std::invalid_argument("trackCpu: bad slot or format");
      int parentSlot = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
      uint64_t startTicks = 0;
      int err = cpu(env).track(slot, format, info[2].As<Napi::String>().Utf8Value(), parentSlot, startTicks);
      Napi::Object result = Napi::Object::New(env);
      result.Set("error", err ? errnoName(err) : std::string());
      result.Set("startTicks", static_cast<double>(startTicks));
      return result;
    });
  }

  void untrackCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (info.Length() < 1 || !info[0].IsNumber()) throw std::invalid_argument("untrackCpu(slot)");
      cpu(env).untrack(info[0].As<Napi::Number>().Int32Value());
    });
  }

  Napi::Value pendingCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return toJs(env, cpu(env).pending()); });
  }

  // Like drain(): as many records as `into` holds, column-major: n timestamps, n slots,
  // n values.
  Napi::Value drainCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      CpuTimes& times = cpu(env);
      Napi::Float64Array into = float64Argument(info, "drainCpu");
      size_t n = std::min(times.pending(), into.ElementLength() / 3);
      times.drain(into.Data(), n);
      return toJs(env, n);
    });
  }

  Napi::Value cpuStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      CpuTimesStats s = cpu(env).stats();
      Napi::Object result = Napi::Object::New(env);
      result.Set("rounds", toJs(env, s.rounds));
      result.Set("droppedRounds", toJs(env, s.droppedRounds));
      result.Set("readErrors", toJs(env, s.readErrors));
      result.Set("ended", toJs(env, s.ended));
      result.Set("tracked", toJs(env, s.tracked));
      return result;
    });
  }

  Napi::Value pending(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return toJs(env, open(env).pending()); });
  }

  // Into the caller's memory (lib/slab.ts), so that JavaScript decides where drained ticks
  // live and can reuse it: as many ticks as `into` holds, at most those waiting.
  Napi::Value drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Sampler& sampler = open(env);
      Napi::Float64Array into = float64Argument(info, "drain");
      size_t n = std::min(sampler.pending(), into.ElementLength() / (1 + domainCount_));
      sampler.drain(into.Data(), n);
      return toJs(env, n);
    });
  }

  Napi::Value nowMs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, open(env).nowMs()); });
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return statsObject(env, open(env).stats()); });
  }

  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<CpuTimes> cpu_;
  size_t domainCount_ = 0;
  bool hooked_ = false;
};

class WattmeterAddon : public Napi::Addon<WattmeterAddon> {
 public:
  WattmeterAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod<&WattmeterAddon::discoverDomains>("discover", napi_enumerable),
                             InstanceMethod<&WattmeterAddon::readOnce>("readOnce", napi_enumerable),
                             InstanceMethod<&WattmeterAddon::noNewPrivileges>("noNewPrivileges", napi_enumerable),
                             InstanceValue("Sampler", SamplerWrap::define(env), napi_enumerable),
                             InstanceValue("MAX_RATE_HZ", Napi::Number::New(env, kMaxRateHz), napi_enumerable),
                             InstanceValue("CLOCK_TICKS_PER_SECOND", Napi::Number::New(env, static_cast<double>(sysconf(_SC_CLK_TCK))), napi_enumerable),
                             InstanceValue("OPTION_KEYS", stringArray(env, optionKeys()), napi_enumerable),
                             InstanceValue("STATS_KEYS", stringArray(env, statsKeys()), napi_enumerable),
                         });
  }

 private:
  // After switching user: nothing the process executes may gain privileges again
  // (set-user-ID programs, file capabilities). Node has no call for PR_SET_NO_NEW_PRIVS.
  void noNewPrivileges(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [] {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw errnoError(errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    });
  }

  Napi::Value discoverDomains(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return discoveryObject(env, discover(parseOptions(objectArgument(info)))); });
  }

  // One reading of every raw counter, without a thread: NativeReading in lib/native.ts.
  Napi::Value readOnce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Discovery discovery = discover(parseOptions(objectArgument(info)));
      std::vector<std::unique_ptr<EnergyDomain>> domains = openAll(discovery);
      Napi::Array raw = Napi::Array::New(env, domains.size());
      for (size_t i = 0; i < domains.size(); i++) {
        double uj = 0;
        if (int err = domains[i]->readRawUj(uj)) throw errnoError(err, discovery.domains[i].info.path);
        raw.Set(i, uj);
      }
      Napi::Object result = discoveryObject(env, discovery);
      result.Set("timestampMs", static_cast<double>(clockNs(CLOCK_REALTIME)) / 1e6);
      result.Set("rawUj", raw);
      return result;
    });
  }
};

}  // namespace
}  // namespace wattmeter

using wattmeter::WattmeterAddon;
NODE_API_ADDON(WattmeterAddon)
