// Descriptors and the few file reads the sources need. Counters keep their descriptor
// open and re-read it with pread at offset 0 (sysfs and procfs regenerate the value), so
// permission is checked once, at open, as the kernel does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wattmeter {

// An owned, read-only file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

// Opens `path` read-only. Returns 0 or an errno.
int openReadOnly(const std::string& path, Fd& fd);

// Opens `path` read-only; throws SourceError (errno name, path) on failure.
Fd openOrThrow(const std::string& path);

// pread of up to `size` bytes at `offset`, retried on EINTR. Returns the byte count, or
// -errno.
long preadFull(int fd, void* buffer, size_t size, uint64_t offset);

// Reads a small text file whole (sysfs attributes, cpuinfo). Returns 0 or an errno.
int readText(const std::string& path, std::string& out);

// readText that throws SourceError on failure.
std::string readTextOrThrow(const std::string& path);

// The leading decimal digits of [text, text+size) (after blanks). False if there are
// none or they overflow 64 bits. What follows the digits is ignored: sysfs ends the
// number with a newline, and a file rewritten in place may keep stale bytes after it.
bool parseLeadingU64(const char* text, size_t size, uint64_t& value);

// Names in a directory, "." and ".." left out, sorted. Returns 0 or an errno.
int listDirectory(const std::string& path, std::vector<std::string>& names);

// Leading and trailing whitespace removed.
std::string trim(const std::string& text);

}  // namespace wattmeter
