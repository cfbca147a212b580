// Progress display and the JSON round log (progress.h).
#include "src/train/progress.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "umbra/atomic_output.h"
#include "umbra/logging.h"

namespace umbra::train {
namespace {
// The round of a line of the JSON log (an object with an integer round), or none.
std::optional<int> RoundOf(const std::string& line) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("round") || !j["round"].is_number_integer()) return {};
  return j["round"].get<int>();
}
// Whether a line is whole JSON (a log line cut short by a kill is not).
bool CompleteObject(const std::string& line) { return !nlohmann::json::parse(line, nullptr, false).is_discarded(); }
}  // namespace

bool IsTrainingLog(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path);
  // The first line that is not blank (as Progress skips them), within the first 100 lines, read
  // in pieces up to 16 MiB: a round's line is a few hundred bytes, but one with thousands of
  // metrics is longer than any fixed buffer, and no file (a model of gigabytes with no newline)
  // is read whole.
  constexpr size_t kMaxLine = size_t(16) << 20;
  char piece[65536];
  for (int n = 0; n < 100; ++n) {
    std::string line;
    while (!in.getline(piece, sizeof piece) && !in.eof() && in.gcount() == std::streamsize(sizeof piece - 1)) {
      line.append(piece, sizeof piece - 1);  // the line goes on past this piece
      if (line.size() > kMaxLine) return false;
      in.clear();
    }
    if (in.fail() && in.gcount() == 0 && line.empty()) return false;  // the end of the file
    line.append(piece, size_t(in.gcount()) - (in.eof() ? 0 : 1));  // all it read (a NUL too) but the newline
    if (!line.empty()) return RoundOf(line).has_value();
  }
  return false;
}

Progress::Progress(bool silent, long print_step, const std::string& log_path, int first_round, bool fresh,
                   bool resumed)
    : silent_(silent), tty_(isatty(fileno(stderr)) != 0), print_step_(print_step > 0 ? print_step : 100) {
  if (log_path.empty()) return;
  log_path_ = log_path;
  // A named pipe that nothing reads blocked the run in open() forever, its model_dir locked: one
  // without a reader is an error, one with a reader is written to.
  if (struct stat st{}; ::stat(log_path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    UMBRA_CHECK(fd >= 0 || errno != ENXIO, "log = ", log_path, " is a named pipe that nothing reads; start its reader ",
                "first, or name a file");
    if (fd >= 0) {
      pipe_held_.reset(::fdopen(fd, "w"));
      if (!pipe_held_) ::close(fd);
    }
  }
  // The rounds kept, rewritten whole or not at all (AtomicOutput): they exist nowhere else. A
  // file with a line that is no round of a log is someone else's: left alone, and an error.
  // Only a regular file is read (/dev/zero has no lines, and no end).
  // Two runs naming one log (each with its own model_dir) would each rename their rewrite over
  // it and append to their own copy, one of them no longer the file's: the log is locked
  // (flock) while read and while written, and a log another run holds is an error.
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(log_path, ec);
  const bool absent = !regular && !std::filesystem::exists(log_path, ec);  // before the rewrite makes it
  if (regular) LockLog(std::fopen(log_path.c_str(), "r"));
  AtomicOutput kept(log_path, /*binary=*/false, "training log");
  int last_kept = 0;                             // the last round kept
  int lowest = std::numeric_limits<int>::max();  // the lowest round in the file
  if (std::ifstream in(log_path); in && regular) {
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (size_t n = 0; n < lines.size(); ++n) {
      if (lines[n].empty()) continue;
      const std::optional<int> round = RoundOf(lines[n]);
      // The last line, an object cut short by a kill or a full disk: dropped, as its round is
      // redone. Cut short, it lacks its closing brace: a whole object that is no round (a JSON
      // file of notes named as the log) was dropped, and the file replaced.
      if (!round && n + 1 == lines.size() && lines[n].starts_with("{") && !CompleteObject(lines[n])) break;
      UMBRA_CHECK(round.has_value(), "log = ", log_path, ": line ", n + 1,
                  " is no round of a training log; not overwriting the file");
      lowest = std::min(lowest, *round);
      UMBRA_CHECK(!fresh, "log = ", log_path, " holds round ", *round,
                  " of another run; not overwriting it (remove it or name another log; a run resumed with "
                  "continue=1 from a saved model keeps its earlier rounds)");
      if (*round < first_round) {
        kept.out() << lines[n] << "\n";
        last_kept = std::max(last_kept, *round);
      }
    }
  }
  kept.Commit();
  // A round's model is written before its line: a run stopped or failed (a full disk) between
  // the two has a model that continue=1 resumes after and a line that is never written. Said,
  // not mended: its figures are gone. The rounds that should have lines: from the log's first
  // (a run may start at start_counter, or after model_in's rounds) or, with none kept, the one
  // resumed from.
  const int from = std::max(last_kept + 1, std::min(lowest, first_round - 1));
  if (resumed && regular && from < first_round) {
    const bool one = from + 1 == first_round;
    const std::string missing = one ? "round " + std::to_string(from) + " has"
                                    : "rounds " + std::to_string(from) + "-" + std::to_string(first_round - 1) +
                                          " have";
    std::fprintf(stderr, "note: log = %s: %s no line in it (a run stopped or failed between saving a model and "
                 "logging its round): %s\n", log_path.c_str(), missing.c_str(),
                 one ? "the model is kept, its figures are lost" : "the models are kept, their figures are lost");
  }
  // A resumed run whose log is gone (removed, or the earlier rounds logged under another log=)
  // started a log at its first round, unsaid: plots of it began there.
  if (resumed && absent && first_round > 1)
    std::fprintf(stderr, "note: log = %s does not exist: it begins at round %d, without lines for the resumed rounds "
                 "before it (removed, or the earlier run was given another log =)\n",
                 log_path.c_str(), first_round);
  FILE* log = std::fopen(log_path.c_str(), "a");
  UMBRA_CHECK(log, "cannot open the training log '", log_path, "' for writing");
  LockLog(log);
}
void Progress::LockLog(FILE* file) {
  if (!file) return;  // unreadable: AtomicOutput or the append says why
  log_.reset(file);  // closing the one read before its rewrite, and its lock
  if (!std::filesystem::is_regular_file(log_path_)) return;  // a device or pipe: nothing to lock
  UMBRA_CHECK(::flock(fileno(log_.get()), LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK, "log = ", log_path_,
              " is being written by another run; name another log");
}
double Progress::Seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}
void Progress::StartRound(int round) {
  round_ = round;
  batches_ = instances_ = 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::Batch(long instances, const Figures& running) {
  instances_ = instances;
  ++batches_;
  last_batch_ = std::chrono::steady_clock::now();
  if (silent_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_ ? now - last_draw_ < std::chrono::milliseconds(200) : batches_ % print_step_ != 0) return;
  last_draw_ = now;
  std::string line = "[" + std::to_string(round_) + "] ";
  if (last_round_instances_ > 0) {
    // The length of a round is known from the previous one: draw a bar.
    const double f = std::min(1.0, double(instances) / double(last_round_instances_));
    const int width = 30, full = int(f * width);
    line += "[" + std::string(full, '=') + (full < width ? ">" : "") + std::string(width - std::min(width, full + 1), ' ') + "] ";
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "%ld img, %.0f img/s", instances, instances / std::max(1e-9, Seconds()));
  line += buf;
  for (auto& [k, v] : running) {
    std::snprintf(buf, sizeof buf, "  %s %.4g", k.c_str(), v);
    line += buf;
  }
  if (tty_) std::fprintf(stderr, "\r%s\033[K", line.c_str());
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::EndRound(const Figures& results, const Figures& extra, bool results_line) {
  const double secs = Seconds();  // with evaluation
  // Training speed over the batches alone, evaluation excluded.
  const double train_secs = batches_ ? std::chrono::duration<double>(last_batch_ - start_).count() : secs;
  const double rate = instances_ / std::max(1e-9, train_secs);
  last_round_instances_ = instances_;
  if (tty_ && !silent_) std::fprintf(stderr, "\r\033[K");
  if (results_line) {
    std::printf("[%d]", round_);
    for (auto& [k, v] : results) std::printf("\t%s:%g", k.c_str(), v);
    std::printf("\n");
    std::fflush(stdout);
  }
  if (!silent_)
    std::fprintf(stderr, "round %d: %.1f s (training %.1f s, %.0f img/s)\n", round_, secs, train_secs, rate);
  if (log_) {
    nlohmann::json j = {{"round", round_}, {"seconds", secs}, {"train_seconds", train_secs},
                        {"images", instances_}, {"img_per_s", rate}};
    for (auto& [k, v] : results) j[k] = v;
    for (auto& [k, v] : extra) j[k] = v;
    UMBRA_CHECK(std::fprintf(log_.get(), "%s\n", j.dump().c_str()) >= 0 && std::fflush(log_.get()) == 0,
                "writing round ", round_, " to the training log '", log_path_, "' failed (disk full?)");
  }
}

}  // namespace umbra::train
