// The run's output files (job.h): model_dir, the log, and the checks that an output takes no
// name of an input, a model, a lock or another run's file. Apart from job.cc, which reads the
// config into a Job.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "src/train/job.h"
#include "src/train/progress.h"  // IsTrainingLog
#include "umbra/io/image_bytes.h"
#include "umbra/io/mean_image.h"
#include "umbra/io/record.h"
#include "umbra/nn/model_file.h"
#include "umbra/regular_file.h"

namespace umbra::train {

std::string ModelDir(const Job& job) { return job.Get("model_dir", "models"); }
std::string LogPath(const Job& job) {
  return job.Get("log", (std::filesystem::path(ModelDir(job)) / "log.jsonl").string());
}

bool IsRoundModelName(const std::string& n) {
  const size_t digits = n.find_first_not_of("0123456789");
  return digits >= 4 && digits <= 9 && n.substr(digits) == ".model";
}

namespace {
// Whether two paths name the same file, where neither need exist yet.
bool SamePath(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ea, eb;
  const auto ca = std::filesystem::weakly_canonical(a, ea), cb = std::filesystem::weakly_canonical(b, eb);
  return !ea && !eb && ca == cb;
}
// "is named as a model_dir's lock file" where `path`, or the file a symlink at it names, is
// one (an output written over it, through the link too, as AtomicOutput writes through links, no
// longer held the folder: a second training run in it ran beside the first); else empty.
std::string NamedAsLock(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::path(path).filename() == kModelDirLockName) return "is named as a model_dir's lock file";
  const auto real = std::filesystem::weakly_canonical(path, ec);
  if (ec || real.filename() != kModelDirLockName) return {};
  return "is a symlink to '" + real.string() + "', a model_dir's lock file";
}
}  // namespace

bool NamedAsRoundModel(const Job& job, const std::string& path) {
  const std::filesystem::path p(path);
  return IsRoundModelName(p.filename().string()) && SamePath(p.parent_path().empty() ? "." : p.parent_path(), ModelDir(job));
}

void RefuseNamesOfTheRunsFiles(const Job& job) {
  namespace fs = std::filesystem;
  const std::string task = job.Get("task", "train");
  if (task == "train" || task == "finetune") {
    const std::string log = LogPath(job);
    UMBRA_CHECK(!IsRoundModelName(fs::path(log).filename().string()), job.Where("log"), ": log = ", log,
                " is named as a round's model file, which a run writes and continue=1 reads; name the log otherwise");
    const std::string lock = NamedAsLock(log);
    UMBRA_CHECK(lock.empty(), job.Where("log"), ": log = ", log, " ", lock,
                ", which training runs hold; name the log otherwise");
    std::error_code ec;
    UMBRA_CHECK(log.empty() || !fs::is_directory(log, ec) || !job.global.count("log"), job.Where("log"), ": log = ", log,
                " is a folder; name a file (", (fs::path(log) / "log.jsonl").string(), ")");
    UMBRA_CHECK(log.empty() || !fs::is_directory(log, ec), "model_dir's log '", log, "' is a folder; remove it, or name "
                "another log (log = FILE)");
  }
  const IterBlock* pred = job.Find("pred");
  for (const config::Entry& e : job.entries) {
    if (e.key != "image_mean" && !e.key.ends_with(":image_mean")) continue;
    if (e.value.empty() || fs::exists(e.value)) continue;  // read, not written: checked as an input
    const std::string refused = e.Where() + ": image_mean = " + e.value + " does not exist yet; the mean image "
                                "computed into it would take the name of ";
    UMBRA_CHECK(!NamedAsRoundModel(job, e.value), refused, "a round's model in model_dir; name the mean image otherwise");
    UMBRA_CHECK(!SamePath(e.value, LogPath(job)), refused, "the training log; name the mean image otherwise");
    UMBRA_CHECK(NamedAsLock(e.value).empty(), refused,
                "a model_dir's lock file, which training runs hold; name the mean image otherwise");
    UMBRA_CHECK(!pred || !SamePath(e.value, pred->name), refused, "the pred output (", pred ? pred->name_where : "",
                "); name the mean image otherwise");
  }
}

void RefuseOverwritingInput(const Job& job, const std::string& out, const std::string& out_key,
                            const std::string& where) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string model_dir = ModelDir(job);
  // In any folder: the folder may be another run's model_dir (pred = m0/0002.model, then
  // continue=1 there, was "'m0/0002.model' is not an umbra model file").
  const auto round_name = [&] {
    UMBRA_CHECK(!IsRoundModelName(fs::path(out).filename().string()), where, ": ", out_key, " = ", out,
                " is named as a round's model file (NNNN.model), which continue=1 in ",
                NamedAsRoundModel(job, out) ? "model_dir '" + model_dir + "'" : std::string("its folder"),
                " would take for one; name another output file");
  };
  const std::string lock = NamedAsLock(out);
  UMBRA_CHECK(lock.empty(), where, ": ", out_key, " = ", out, " ", lock, " (", kModelDirLockName,
              "), which training runs hold; name another output file");
  if (const std::string why = NotRegularFile(out); !why.empty()) {  // a new file, or a device (/dev/stdout)
    // A folder was "cannot write the pred output '...': Is a directory" after the pass. (A
    // FILE.shape folder is said by the pred loop, which says why it would be written.)
    UMBRA_CHECK(!fs::is_directory(out, ec) || out_key.find('(') != std::string::npos, where, ": ", out_key, " = ", out, " is a folder; name a file (",
                (fs::path(out) / "x.txt").string(), ")");
    if (why == "no such file" || !fs::exists(out, ec)) {
      round_name();
      // Said here, at the key's line and before the pass (it was "cannot write the pred output
      // 'nodir/p.txt': No such file or directory" at the end, naming no line).
      const fs::path folder = fs::path(out).parent_path();
      std::error_code sec;
      const fs::file_status st = folder.empty() ? fs::file_status{} : fs::status(folder, sec);
      UMBRA_CHECK(folder.empty() || fs::is_directory(st), where, ": ", out_key, " = ", out, ": its folder '",
                  folder.string(), "' ",
                  sec && sec != std::errc::no_such_file_or_directory && sec != std::errc::not_a_directory
                      ? "cannot be looked up (" + sec.message() + ")"
                  : fs::exists(st)                                    ? std::string("is no folder")
                                                                      : std::string("does not exist"),
                  "; make it, or name another output file");
    }
    return;
  }
  const auto same = [&](const std::string& p) { return fs::equivalent(out, p, ec); };
  const std::string refused = where + ": " + out_key + " = " + out + " would overwrite ";
  // The training log (a pred file over it lost the run's history, and continue=1 then refused
  // the folder).
  const std::string log = LogPath(job);
  UMBRA_CHECK(!same(log), refused, "the training log '", log, "'; name another output file");
  for (const config::Entry& e : job.entries) {
    UMBRA_CHECK(e.file == "<command line>" || !same(e.file), refused, "the config file it is given in");
    // Block lines and netconfig name no files; the output's own key and the other outputs are
    // not read.
    if (e.key == out_key || IsBlockRole(e.key) || e.key == "iter" || e.key == "log" || e.key == "netconfig" ||
        e.key == "weight_filename" || e.key == "model_dir" || e.key.rfind("layer[", 0) == 0)
      continue;
    UMBRA_CHECK(!same(e.value), refused, "the file ", e.key, " names (", e.Where(), "), which the config reads");
  }
  // One this user cannot read could be a model (it was taken for none, and replaced).
  if (const int fd = ::open(out.c_str(), O_RDONLY); fd >= 0)
    ::close(fd);
  else
    UMBRA_THROW(refused, "a file this user cannot read (", std::strerror(errno),
                "), which may be a model or another run's output; name another output file");
  UMBRA_CHECK(!nn::IsModelFile(out), refused, "a model file; name another output file");
  // What other runs made, wherever they are (this job's own log is checked above by name): a
  // log's rounds exist nowhere else, and a record file or a mean image took a run to make.
  UMBRA_CHECK(!IsTrainingLog(out), refused, "a training log (its first line is a round); name another output file");
  UMBRA_CHECK(!io::IsRecordFile(out), refused, "a record file; name another output file");
  UMBRA_CHECK(!io::IsMeanImageFile(out), refused, "a mean image; name another output file");
  // An image (one an img block reads, listed in a file no entry names as such).
  UMBRA_CHECK(!io::IsImageFile(out), refused, "an image (its first bytes are an image format's); name another "
              "output file");
  round_name();
}

}  // namespace umbra::train
