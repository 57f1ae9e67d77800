#include "procstat.h"

#include <cstring>

#include "file.h"

namespace wattmeter {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Reads up to `count` blank-separated decimal fields from text[at..); returns how many.
size_t parseFields(const char* text, size_t size, size_t at, uint64_t* fields, size_t count) {
  size_t n = 0;
  while (n < count && at < size && text[at] != '\n') {
    while (at < size && text[at] == ' ') at++;
    if (!parseLeadingU64(text + at, size - at, fields[n])) break;
    while (at < size && isDigit(text[at])) at++;
    n++;
  }
  return n;
}

}  // namespace

bool parseCpuLine(const char* text, size_t size, SystemCpuTimes& times) {
  if (size < 4 || std::memcmp(text, "cpu ", 4) != 0) return false;
  uint64_t fields[8] = {};
  size_t count = parseFields(text, size, 4, fields, 8);
  if (count < 4) return false;  // user nice system idle at least
  times = {};
  for (size_t i = 0; i < count; i++) times.total += fields[i];
  times.busy = times.total - fields[3] - (count > 4 ? fields[4] : 0);
  return true;
}

bool parseProcessStat(const char* text, size_t size, ProcessCpuTimes& times) {
  // The command (field 2) is in parentheses and may hold anything, ')' included: the
  // fields start after the last ')'. Field 3 + k is the k-th blank-separated token there.
  const char* close = nullptr;
  for (size_t i = size; i-- > 0;) {
    if (text[i] == ')') {
      close = text + i;
      break;
    }
  }
  if (!close) return false;
  const char* end = text + size;
  const char* at = close + 1;
  uint64_t utime = 0, stime = 0, start = 0;
  char state = 0;
  for (int field = 3; field <= 22; field++) {
    while (at < end && *at == ' ') at++;
    if (at >= end || *at == '\n') return false;
    if (field == 3) state = *at;
    size_t left = static_cast<size_t>(end - at);
    if (field == 14 && !parseLeadingU64(at, left, utime)) return false;
    if (field == 15 && !parseLeadingU64(at, left, stime)) return false;
    if (field == 22 && !parseLeadingU64(at, left, start)) return false;
    while (at < end && *at != ' ' && *at != '\n') at++;
  }
  times.ticks = utime + stime;
  times.startTicks = start;
  times.ended = state == 'Z' || state == 'X';
  return true;
}

bool parseCgroupV2Usage(const char* text, size_t size, uint64_t& ns) {
  static constexpr char kKey[] = "usage_usec ";
  constexpr size_t kLength = sizeof kKey - 1;
  for (size_t at = 0; at + kLength <= size;) {
    if (std::memcmp(text + at, kKey, kLength) == 0) {
      uint64_t us = 0;
      if (!parseLeadingU64(text + at + kLength, size - at - kLength, us)) return false;
      ns = us * 1000;
      return true;
    }
    const void* newline = std::memchr(text + at, '\n', size - at);
    if (!newline) return false;
    at = static_cast<size_t>(static_cast<const char*>(newline) - text) + 1;
  }
  return false;
}

}  // namespace wattmeter
