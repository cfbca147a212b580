// AtomicOutput: a file umbra writes (a model, pred/extract/get_weight results, the JSON log, a
// mean image, a record file) goes under a temporary name beside it and is renamed over its own
// name once written whole. A full disk, an error halfway or a killed run leaves the file as it
// was (or absent) instead of a shorter file that looks whole; and every write is checked when
// the file is closed, where a stream's last buffer goes out (an unchecked close lost a whole
// pred file on a full disk with "wrote 300 instance(s)"). One class for every writer, so that
// the temporary's name (NAME.tmp.PID, which the trainer's clean-up knows) and the clean-up on
// failure are the same everywhere.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "umbra/logging.h"

namespace umbra {

class AtomicOutput {
 public:
  /// `what` names the kind of file in errors ("model file" → "cannot write model file 'P'").
  explicit AtomicOutput(std::string path, bool binary = false, std::string what = "")
      : path_(std::move(path)), what_(what.empty() ? "" : what + " ") {
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
    UMBRA_CHECK(out_.is_open(), "cannot write ", what_, "'", path_, "'",
                errno ? std::string(": ") + std::strerror(errno) : "");
    committed_ = tmp_ == path_;  // in place: nothing to remove or rename
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  /// Without a Commit (an error on the way), the temporary goes and the file stays as it was.
  ~AtomicOutput() {
    if (!committed_) std::remove(tmp_.c_str());
  }
  std::ofstream& out() { return out_; }
  const std::string& path() const { return path_; }
  /// Closes, checks every write, and renames the file into place. `sync` first puts the bytes
  /// on the disk (fsync), for files whose loss costs a training run: a rename that reaches the
  /// disk before the data would leave an empty file under the name after a power cut.
  void Commit(bool sync = false) {
    out_.close();
    const char* as_was = tmp_ == path_ ? "" : "; it is left as it was";
    UMBRA_CHECK(!out_.fail(), "writing ", what_, "'", path_, "' failed (disk full?)", as_was);
    if (sync) {
      const int fd = ::open(tmp_.c_str(), O_RDONLY);
      const bool synced = fd >= 0 && ::fsync(fd) == 0;
      const std::string why = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      UMBRA_CHECK(synced, "cannot write ", what_, "'", path_, "' to the disk (fsync): ", why, as_was);
    }
    if (tmp_ == path_) return;
    UMBRA_CHECK(std::rename(tmp_.c_str(), path_.c_str()) == 0, "cannot rename '", tmp_, "' to '", path_, "': ",
                std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_, what_, tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace umbra
