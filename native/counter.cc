#include "counter.h"

#include <cerrno>

#include "error.h"

namespace wattmeter {

std::unique_ptr<Counter> Counter::open(const Spec& spec) {
  std::unique_ptr<Counter> counter(new Counter(spec, openOrThrow(spec.file)));
  if (int err = counter->readCounts(counter->last_)) {
    if (err == EIO && spec.format == Format::DecimalText) {
      throw SourceError(kBadFile, spec.file, spec.file + ": does not hold a decimal energy in microjoules");
    }
    throw errnoError(err, spec.file);
  }
  return counter;
}

int Counter::readCounts(uint64_t& counts) const {
  if (spec_.format == Format::Register32) {
    uint64_t value = 0;
    long n = preadFull(fd_.get(), &value, sizeof value, spec_.offset);
    if (n < 0) return static_cast<int>(-n);
    if (n != sizeof value) return EIO;  // past the end of a (fake, sparse) register file
    // x86 is little-endian, like the msr driver's 8-byte reads; the energy status is the
    // low 32 bits (the high half is reserved).
    counts = value & 0xffffffffu;
    return 0;
  }
  // energy_uj holds at most 20 digits and a newline.
  char text[32];
  long n = preadFull(fd_.get(), text, sizeof text, 0);
  if (n < 0) return static_cast<int>(-n);
  return parseLeadingU64(text, static_cast<size_t>(n), counts) ? 0 : EIO;
}

int Counter::readRawUj(double& rawUj) {
  uint64_t counts = 0;
  if (int err = readCounts(counts)) return err;
  rawUj = static_cast<double>(counts) * spec_.ujPerCount;
  return 0;
}

int Counter::sample(int64_t, double& totalUj) {
  uint64_t counts = 0;
  int err = readCounts(counts);
  if (err == 0) {
    // The counter only rises, so a smaller value means it wrapped (once: a domain is
    // read far more often than it wraps, about once a minute at the fastest).
    total_ += counts >= last_ ? counts - last_ : spec_.range - last_ + counts;
    last_ = counts;
  }
  totalUj = static_cast<double>(total_) * spec_.ujPerCount;
  return err;
}

}  // namespace wattmeter
