// AtomicOutput: a file umbra writes (a model, pred/extract/get_weight results, the JSON log, a
// mean image, a record file) goes under a temporary name beside it and is renamed over its own
// name once written whole. A full disk, an error halfway or a killed run leaves the file as it
// was (or absent) instead of a shorter file that looks whole; and every write is checked when
// the file is closed, where a stream's last buffer goes out (an unchecked close lost a whole
// pred file on a full disk with "wrote 300 instance(s)"). One class for every writer, so that
// the temporary's name (NAME.tmp.PID, which the trainer's clean-up knows) and the clean-up on
// failure are the same everywhere. RemoveTemporariesOnSignal() extends the clean-up to Ctrl-C.
// A symlink is written through (its file is replaced, the link stays); a file whose folder
// holds no temporary is copied over only at Commit; devices and pipes are written in place.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "umbra/logging.h"

namespace umbra {
namespace detail {

// The temporaries being written, where a signal handler can read them: fixed slots of plain
// characters and atomic flags, no allocation or lock (neither is safe inside a handler).
struct TemporarySlot {
  std::atomic<bool> taken{false};  // owned by a writer
  std::atomic<bool> live{false};   // `path` is complete and the file may exist
  char path[4096];
};
inline std::array<TemporarySlot, 64>& TemporarySlots() {
  static std::array<TemporarySlot, 64> slots;
  return slots;
}
// The slot now naming `path`, or -1 when all are taken (or the name is too long): that
// temporary is then only removed on the way out of an error, as before.
inline int AddTemporary(const std::string& path) {
  if (path.size() >= sizeof(TemporarySlot::path)) return -1;
  for (size_t i = 0; i < TemporarySlots().size(); ++i) {
    TemporarySlot& s = TemporarySlots()[i];
    if (s.taken.exchange(true)) continue;
    std::memcpy(s.path, path.c_str(), path.size() + 1);
    s.live.store(true);
    return int(i);
  }
  return -1;
}
inline void DropTemporary(int slot) {
  if (slot < 0) return;
  TemporarySlots()[size_t(slot)].live.store(false);
  TemporarySlots()[size_t(slot)].taken.store(false);
}
inline void RemoveTemporariesAndDie(int sig) {
  for (TemporarySlot& s : TemporarySlots())
    if (s.live.load()) ::unlink(s.path);
  ::signal(sig, SIG_DFL);  // then end as the signal would have: the shell sees the same status
  ::raise(sig);
}

}  // namespace detail

/// For a program's main (the CLI; not a library's host such as Python, whose own Ctrl-C handling
/// stays): SIGINT, SIGTERM and SIGHUP first remove the temporaries being written, so that an
/// interrupted pred or extract leaves no OUT.tmp.PID (gigabytes for a binary extract) behind. A
/// signal the process was started ignoring stays ignored: `nohup umbra ...` survived no logout
/// (SIGHUP was caught, then raised with its default action), nor a script's `umbra ... &` a
/// Ctrl-C meant for the script.
inline void RemoveTemporariesOnSignal() {
  detail::TemporarySlots();  // made here, not first inside the handler
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::signal(sig, detail::RemoveTemporariesAndDie);
  }
}

class AtomicOutput {
 public:
  /// `what` names the kind of file in errors ("model file" → "cannot write model file 'P'").
  explicit AtomicOutput(std::string path, bool binary = false, std::string what = "")
      : path_(std::move(path)), what_(what.empty() ? "" : what + " "), dest_(path_) {
    namespace fs = std::filesystem;
    // A symlink to a regular file is written through: the temporary goes beside the file it
    // names, which is replaced, and the link stays (a rename over the link would replace it).
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(path_, ec))) {
      const fs::path real = fs::canonical(path_, ec);
      if (!ec && fs::is_regular_file(real, ec)) dest_ = real.string();
    }
    const auto mode = binary ? std::ios::binary | std::ios::trunc : std::ios::trunc;
    const auto st = fs::symlink_status(dest_, ec);
    if (!fs::exists(st) || fs::is_regular_file(st)) {
      const fs::path dest(dest_);
      Open((dest.parent_path() / TemporaryName(dest.filename().string())).string(), mode);
      // A folder that lets the file itself be written but holds no temporary: the bytes wait in
      // the system's temporary folder and are copied over the file at Commit, which is then
      // the only moment the file can be lost (it was truncated here at once).
      if (!out_.is_open() && fs::is_regular_file(st)) {
        Open((fs::temp_directory_path(ec) / TemporaryName(dest.filename().string())).string(), mode);
        copy_back_ = out_.is_open();
      }
    }
    // Anything else (a device such as /dev/full, a pipe, /dev/stdout, a dangling link) is
    // written in place, as a rename would replace it with a file.
    if (!out_.is_open()) {
      tmp_ = dest_;
      errno = 0;
      out_.open(dest_, mode);
    }
    UMBRA_CHECK(out_.is_open(), "cannot write ", what_, "'", path_, "'",
                errno ? std::string(": ") + std::strerror(errno) : "");
    committed_ = tmp_ == dest_;  // in place: nothing to remove or rename
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  /// Without a Commit (an error on the way), the temporary goes and the file stays as it was.
  ~AtomicOutput() {
    if (!committed_) std::remove(tmp_.c_str());
    detail::DropTemporary(slot_);
  }
  std::ofstream& out() { return out_; }
  const std::string& path() const { return path_; }
  /// The file Commit replaces: path(), or the regular file a symlink at path() names.
  const std::string& dest() const { return dest_; }
  /// Closes and checks every write (and syncs, with `sync`), leaving the file where it waits:
  /// Commit then only renames it. For files that land together (pred's FILE and FILE.shape):
  /// each finished, so that a full disk is found before the first is put in place.
  /// Finishing again only adds a sync not done yet.
  void Finish(bool sync = false) {
    const char* as_was = tmp_ == dest_ ? "" : "; it is left as it was";
    if (!finished_) {
      const bool failed_before = out_.fail();
      errno = 0;
      out_.close();
      UMBRA_CHECK(!out_.fail(), "writing ", what_, "'", path_, "' failed", Why(failed_before ? 0 : errno), as_was);
      finished_ = true;
    }
    if (sync && !sync_ && !copy_back_) Sync(tmp_, as_was);  // a copy back syncs the file it writes
    sync_ = sync_ || sync;
  }
  /// Finishes (if not yet), and renames the file into place. `sync` first puts the bytes
  /// on the disk (fsync), for files whose loss costs a training run: a rename that reaches the
  /// disk before the data would leave an empty file under the name after a power cut; and
  /// then the folder, so that the rename itself outlives one (best effort: a file system that
  /// cannot sync a folder has the file in place all the same).
  void Commit(bool sync = false) {
    Finish(sync);
    if (copy_back_) {
      CopyBack(sync_);
    } else {
      if (tmp_ == dest_) return;
      UMBRA_CHECK(std::rename(tmp_.c_str(), dest_.c_str()) == 0, "cannot rename '", tmp_, "' to '", dest_, "': ",
                  std::strerror(errno));
      if (sync_) SyncFolder();
    }
    committed_ = true;
    detail::DropTemporary(std::exchange(slot_, -1));
  }

 private:
  // Why a write failed, where the failing call was the last to set errno (0: not known, as when
  // the stream failed in an earlier write with other calls since): /proc/version as a pred
  // output failed with EIO, which "(disk full?)" misnamed.
  static std::string Why(int err) { return err ? std::string(": ") + std::strerror(err) : " (disk full?)"; }
  // NAME.tmp.PID, with NAME cut to fit a file name's 255 bytes: a name of 246-255 bytes had no
  // room for the suffix, so no temporary opened and the file was truncated at once.
  static std::string TemporaryName(const std::string& name) {
    const std::string suffix = ".tmp." + std::to_string(::getpid());
    return name.substr(0, 255 - std::min<size_t>(suffix.size(), 255)) + suffix;
  }
  // `tmp` is a temporary's name (NAME.tmp.PID), never the output itself: whatever is there (a
  // dead run's leftover of the same PID, or a symlink planted to have the write follow it onto
  // another file, a model) is removed first, not written through.
  void Open(const std::string& tmp, std::ios::openmode mode) {
    tmp_ = tmp;
    ::unlink(tmp_.c_str());
    slot_ = detail::AddTemporary(tmp_);  // before the file exists: a signal may come at once
    out_.open(tmp_, mode);
    if (!out_.is_open()) detail::DropTemporary(std::exchange(slot_, -1));
  }
  void Sync(const std::string& file, const char* as_was) {
    const int fd = ::open(file.c_str(), O_RDONLY);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    UMBRA_CHECK(synced, "cannot write ", what_, "'", path_, "' to the disk (fsync): ", why, as_was);
  }
  void SyncFolder() const {
    const std::string folder = std::filesystem::path(dest_).parent_path().string();
    const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
  }
  void CopyBack(bool sync) {
    std::ifstream from(tmp_, std::ios::binary);  // before `to` truncates the file
    UMBRA_CHECK(from, "cannot read back '", tmp_, "' for ", what_, "'", path_, "': ", std::strerror(errno),
                "; it is left as it was");
    std::ofstream to(dest_, std::ios::binary | std::ios::trunc);
    UMBRA_CHECK(to, "cannot write ", what_, "'", path_, "': ", std::strerror(errno), "; it is left as it was");
    // The file is truncated: from here the temporary is the only whole copy, kept through a
    // failed copy (a full disk; the error names it) or a signal (no longer the handler's to
    // remove).
    committed_ = true;
    detail::DropTemporary(std::exchange(slot_, -1));
    const std::string kept = "; the whole file is kept in '" + tmp_ + "'";
    errno = 0;
    if (from.peek() != std::ifstream::traits_type::eof()) to << from.rdbuf();  // << of nothing fails
    to.close();
    UMBRA_CHECK(!to.fail(), "writing ", what_, "'", path_, "' failed", Why(errno), kept);
    if (sync) Sync(dest_, kept.c_str());
    std::remove(tmp_.c_str());
  }

  std::string path_, what_;
  std::string dest_;  // the file replaced: path_, or the regular file a symlink at path_ names
  std::string tmp_;   // where the bytes go until Commit (dest_ itself when written in place)
  std::ofstream out_;
  bool committed_ = false;
  bool finished_ = false, sync_ = false;  // Finish ran; the bytes are to be (or are) on the disk
  bool copy_back_ = false;  // tmp_ is in the system's temporary folder: copied over dest_
  int slot_ = -1;  // in detail::TemporarySlots(), for the signal handler
};

}  // namespace umbra
