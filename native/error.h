// The one error type of the native core. Everything a user can act on (a missing file, a
// permission, a CPU without RAPL) is thrown as a SourceError; addon.cc turns it into a
// JavaScript Error with `.code` and `.path`, which lib/errors.ts explains to the user.
#pragma once

#include <stdexcept>
#include <string>

namespace wattmeter {

// Codes that are not errno names (see NativeErrorCode in lib/native.ts).
inline constexpr const char* kNoDomains = "WATTMETER_NO_DOMAINS";
inline constexpr const char* kBadFile = "WATTMETER_BAD_FILE";
inline constexpr const char* kUnsupportedCpu = "WATTMETER_UNSUPPORTED_CPU";

struct SourceError : std::runtime_error {
  SourceError(std::string code, std::string path, const std::string& message)
      : std::runtime_error(message), code(std::move(code)), path(std::move(path)) {}
  std::string code;  // errno name (EACCES, ENOENT...) or one of the kXxx codes above
  std::string path;  // the file involved
};

// "EACCES" for EACCES: Node reports system errors by these names, so we do too.
std::string errnoName(int err);

// A SourceError for a failed system call on `path`: "<path>: <strerror>[ (<hint>)]".
SourceError errnoError(int err, const std::string& path, const std::string& hint = "");

}  // namespace wattmeter
