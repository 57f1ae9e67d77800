// A hardware energy counter read through a kept-open descriptor, turned into a
// wrap-corrected cumulative energy. The raw counter is a powercap energy_uj file (decimal
// microjoules, wraps at max_energy_range_uj) or a 32-bit MSR energy status register
// (counts of 2^-ESU joule, wraps at 2^32).
#pragma once

#include <string>

#include "domain.h"
#include "file.h"

namespace wattmeter {

class Counter final : public EnergyDomain {
 public:
  enum class Format { DecimalText, Register32 };

  struct Spec {
    std::string file;  // energy_uj, or the MSR device
    Format format;
    uint64_t offset;       // 0, or the register address
    uint64_t range;        // raw values run 0 .. range-1, then wrap (in counts)
    double ujPerCount;     // 1 for powercap; 1e6 / 2^ESU for MSRs
  };

  // Opens the file and reads it once (the baseline of the total). Throws SourceError.
  static std::unique_ptr<Counter> open(const Spec& spec);

  int readRawUj(double& rawUj) override;
  int sample(int64_t nowNs, double& totalUj) override;

 private:
  Counter(const Spec& spec, Fd fd) : spec_(spec), fd_(std::move(fd)) {}
  int readCounts(uint64_t& counts) const;

  Spec spec_;
  Fd fd_;
  uint64_t last_ = 0;   // raw counts at the previous read
  uint64_t total_ = 0;  // counts since open; integer, so no rounding accumulates
};

}  // namespace wattmeter
