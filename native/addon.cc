// The Node-API boundary: options in, plain objects and one Float64Array per drain out.
// Per-environment by construction (Napi::Addon, no globals), so the addon can be loaded
// by several worker threads at once.
#include <napi.h>

#include <memory>
#include <stdexcept>

#include "clock.h"
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
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Value property(const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) throw std::invalid_argument(std::string("options.") + key + " is missing");
  return value;
}

std::string stringOption(const Napi::Object& o, const char* key) {
  Napi::Value v = property(o, key);
  if (!v.IsString()) throw std::invalid_argument(std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double numberOption(const Napi::Object& o, const char* key) {
  Napi::Value v = property(o, key);
  if (!v.IsNumber()) throw std::invalid_argument(std::string("options.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool booleanOption(const Napi::Object& o, const char* key) {
  Napi::Value v = property(o, key);
  if (!v.IsBoolean()) throw std::invalid_argument(std::string("options.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Object objectArgument(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw std::invalid_argument("expected an options object");
  return info[0].As<Napi::Object>();
}

Options parseOptions(const Napi::Object& o) {
  Options options;
  options.source = stringOption(o, "source");
  options.sysfsRoot = stringOption(o, "sysfsRoot");
  options.procRoot = stringOption(o, "procRoot");
  options.msrPath = stringOption(o, "msrPath");
  options.cpuVendor = stringOption(o, "cpuVendor");
  options.includeMmio = booleanOption(o, "includeMmio");
  options.modelIdleWatts = numberOption(o, "modelIdleWatts");
  options.modelMaxWatts = numberOption(o, "modelMaxWatts");
  options.gpu = booleanOption(o, "gpu");
  options.nvmlLibrary = stringOption(o, "nvmlLibrary");
  return options;
}

SamplerConfig parseSamplerConfig(const Napi::Object& o) {
  SamplerConfig config{numberOption(o, "rateHz"), 0, booleanOption(o, "realtime")};
  if (!(config.rateHz >= 1 && config.rateHz <= kMaxRateHz)) {
    throw std::invalid_argument("options.rateHz must be between 1 and " + std::to_string(static_cast<int>(kMaxRateHz)));
  }
  double capacity = numberOption(o, "capacity");
  if (!(capacity >= 2 && capacity <= 1e9)) throw std::invalid_argument("options.capacity must be between 2 and 1e9 ticks");
  config.capacity = static_cast<size_t>(capacity);
  return config;
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

class SamplerWrap : public Napi::ObjectWrap<SamplerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Sampler",
                       {
                           InstanceMethod<&SamplerWrap::start>("start"),
                           InstanceMethod<&SamplerWrap::stop>("stop"),
                           InstanceMethod<&SamplerWrap::close>("close"),
                           InstanceMethod<&SamplerWrap::drain>("drain"),
                           InstanceMethod<&SamplerWrap::stats>("stats"),
                           InstanceMethod<&SamplerWrap::nowMs>("nowMs"),
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
    wrap->sampler_.reset();
  }

  Sampler& open(Napi::Env env) {
    if (!sampler_) throw Napi::Error::New(env, "wattmeter: this sampler is closed");
    return *sampler_;
  }

  void start(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { open(info.Env()).start(); });
  }

  void stop(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { open(info.Env()).stop(); });
  }

  // Stops the thread, closes the counters and frees the ring. Safe to call twice.
  void close(const Napi::CallbackInfo&) { sampler_.reset(); }

  Napi::Value drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Sampler& sampler = open(env);
      size_t n = sampler.pending();
      if (info.Length() > 0 && !info[0].IsUndefined()) {
        if (!info[0].IsNumber()) throw std::invalid_argument("maxTicks must be a number");
        double max = info[0].As<Napi::Number>().DoubleValue();
        if (!(max >= 0)) throw std::invalid_argument("maxTicks must not be negative");
        if (max < static_cast<double>(n)) n = static_cast<size_t>(max);
      }
      Napi::Float64Array columns = Napi::Float64Array::New(env, n * (1 + domainCount_));
      sampler.drain(columns.Data(), n);
      return columns;
    });
  }

  Napi::Value nowMs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, open(env).nowMs()); });
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      SamplerStats s = open(env).stats();
      Napi::Object result = Napi::Object::New(env);
      result.Set("running", s.running);
      // Counts stay below 2^53 for millennia at 100 kHz: doubles hold them exactly.
      result.Set("ticks", static_cast<double>(s.ticks));
      result.Set("dropped", static_cast<double>(s.dropped));
      result.Set("overruns", static_cast<double>(s.overruns));
      result.Set("readErrors", static_cast<double>(s.readErrors));
      result.Set("elapsedS", s.elapsedS);
      Napi::Object lateness = Napi::Object::New(env);
      lateness.Set("p50", s.latenessP50Us);
      lateness.Set("p99", s.latenessP99Us);
      lateness.Set("max", s.latenessMaxUs);
      result.Set("latenessUs", lateness);
      Napi::Array changes = Napi::Array::New(env, s.changes.size());
      for (size_t i = 0; i < s.changes.size(); i++) changes.Set(i, static_cast<double>(s.changes[i]));
      result.Set("changes", changes);
      result.Set("realtime", s.realtime);
      result.Set("notes", stringArray(env, s.notes));
      return result;
    });
  }

  std::unique_ptr<Sampler> sampler_;
  size_t domainCount_ = 0;
  bool hooked_ = false;
};

class WattmeterAddon : public Napi::Addon<WattmeterAddon> {
 public:
  WattmeterAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod<&WattmeterAddon::discoverDomains>("discover", napi_enumerable),
                             InstanceMethod<&WattmeterAddon::readOnce>("readOnce", napi_enumerable),
                             InstanceValue("Sampler", SamplerWrap::define(env), napi_enumerable),
                             InstanceValue("MAX_RATE_HZ", Napi::Number::New(env, kMaxRateHz), napi_enumerable),
                         });
  }

 private:
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
