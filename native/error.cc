#include "error.h"

#include <cerrno>
#include <cstring>

namespace wattmeter {

std::string errnoName(int err) {
  // strerrorname_np needs glibc 2.32; Node 20 supports 2.28. These are the errors opening
  // and reading sysfs, procfs and /dev/cpu/*/msr can give.
  switch (err) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    default: return "ERRNO_" + std::to_string(err);
  }
}

SourceError errnoError(int err, const std::string& path, const std::string& hint) {
  std::string message = path + ": " + std::strerror(err);
  if (!hint.empty()) message += " (" + hint + ")";
  return SourceError(errnoName(err), path, message);
}

}  // namespace wattmeter
