#include "file.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.h"

namespace wattmeter {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

int openReadOnly(const std::string& path, Fd& fd) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return errno;
  fd = Fd(raw);
  return 0;
}

Fd openOrThrow(const std::string& path) {
  Fd fd;
  if (int err = openReadOnly(path, fd)) throw errnoError(err, path);
  return fd;
}

long preadFull(int fd, void* buffer, size_t size, uint64_t offset) {
  for (;;) {
    ssize_t n = ::pread(fd, buffer, size, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<long>(n);
    if (errno != EINTR) return -errno;
  }
}

int readText(const std::string& path, std::string& out) {
  Fd fd;
  if (int err = openReadOnly(path, fd)) return err;
  out.clear();
  char buffer[4096];
  for (;;) {
    long n = preadFull(fd.get(), buffer, sizeof buffer, out.size());
    if (n < 0) return static_cast<int>(-n);
    if (n == 0) return 0;
    out.append(buffer, static_cast<size_t>(n));
  }
}

std::string readTextOrThrow(const std::string& path) {
  std::string text;
  if (int err = readText(path, text)) throw errnoError(err, path);
  return text;
}

bool parseLeadingU64(const char* text, size_t size, uint64_t& value) {
  size_t i = 0;
  while (i < size && (text[i] == ' ' || text[i] == '\t')) i++;
  size_t first = i;
  uint64_t v = 0;
  for (; i < size && text[i] >= '0' && text[i] <= '9'; i++) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (i == first) return false;
  value = v;
  return true;
}

int listDirectory(const std::string& path, std::vector<std::string>& names) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return errno;
  names.clear();
  while (const dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return 0;
}

std::string trim(const std::string& text) {
  const char* blanks = " \t\r\n";
  size_t first = text.find_first_not_of(blanks);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

}  // namespace wattmeter
