// One check before any reader opens a file it was named: a path that is no regular file is
// refused there. A named pipe or a device blocks the open or the read forever (a data path that
// was a FIFO hung the run), and a folder opens and then fails with the library's words alone.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "umbra/logging.h"

namespace umbra {

/// "" for a regular file (or a symlink to one), else "no such file", "not a regular file" or
/// the system's reason it cannot be looked at (a loop of symlinks, a folder without search rights).
inline std::string NotRegularFile(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  // A link to itself read "no such file" where there is one.
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) return ec.message();
  if (!std::filesystem::exists(st)) return "no such file";
  return std::filesystem::is_regular_file(st) ? "" : "not a regular file";
}

/// Whether `path` is a regular file whose first bytes are `magic` (a model, a record file):
/// what an output must not replace.
inline bool RegularFileStartsWith(const std::string& path, std::string_view magic) {
  if (!NotRegularFile(path).empty()) return false;
  std::ifstream in(path, std::ios::binary);
  std::string head(magic.size(), '\0');
  in.read(head.data(), std::streamsize(head.size()));
  return size_t(in.gcount()) == magic.size() && head == magic;
}

/// Throws "cannot open <what> '<path>': no such file" (or "not a regular file", or the system's
/// reason: NotRegularFile).
inline void CheckRegularFile(const std::string& path, const std::string& what) {
  const std::string why = NotRegularFile(path);
  UMBRA_CHECK(why.empty(), "cannot open ", what, " '", path, "': ", why);
}

}  // namespace umbra
