// AtomicOutput: a result file (pred, extract, get_weight, the JSON log) written under a temporary
// name beside it and renamed over its own name once written whole. A full disk, an error halfway
// or a killed run leaves the file as it was (or absent) instead of a shorter file that looks
// whole; and every write is checked when the file is closed, where a stream's last buffer goes
// out (an unchecked close lost a whole pred file on a full disk with "wrote 300 instance(s)").
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "umbra/base.h"

namespace umbra::train {

class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path, bool binary = false) : path_(std::move(path)) {
    // Only a regular file, or a new one, goes through a temporary: anything else is written in
    // place, as before. A rename would replace a device (/dev/full), or a symlink (/dev/stdout,
    // a link to a file elsewhere) with a file; and a folder that only lets the file itself be
    // written has no room for a temporary.
    const auto mode = binary ? std::ios::binary | std::ios::trunc : std::ios::trunc;
    std::error_code ec;
    const auto st = std::filesystem::symlink_status(path_, ec);
    if (!std::filesystem::exists(st) || std::filesystem::is_regular_file(st)) {
      tmp_ = path_ + ".tmp." + std::to_string(::getpid());
      out_.open(tmp_, mode);
    }
    if (!out_.is_open()) {
      tmp_ = path_;
      errno = 0;
      out_.open(path_, mode);
    }
    UMBRA_CHECK(out_.is_open(), "cannot write '", path_, "'", errno ? std::string(": ") + std::strerror(errno) : "");
    committed_ = tmp_ == path_;  // in place: nothing to remove or rename
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  ~AtomicOutput() {
    if (!committed_) std::remove(tmp_.c_str());
  }
  std::ofstream& out() { return out_; }
  /// Closes, checks every write, and renames the file into place.
  void Commit() {
    out_.close();
    UMBRA_CHECK(!out_.fail(), "writing '", path_, "' failed (disk full?)",
                tmp_ == path_ ? "" : "; it is left as it was");
    if (tmp_ == path_) return;
    UMBRA_CHECK(std::rename(tmp_.c_str(), path_.c_str()) == 0, "cannot rename '", tmp_, "' to '", path_, "'");
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace umbra::train
