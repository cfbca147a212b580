// What a training run shows and records: on a terminal a progress line redrawn in place (a bar
// once the round length is known, images/s, running metrics); otherwise a plain line every
// print_step batches; after each round cxxnet's line on stdout ("[3]\ttrain-error:0.1\t
// test-error:0.12") and one JSON object per round in the log file (for plots).
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace umbra::train {

using Figures = std::vector<std::pair<std::string, double>>;

/// Whether `path` is a regular file whose first line is a round of a training log (what an
/// output must not replace: the rounds exist nowhere else).
bool IsTrainingLog(const std::string& path);

class Progress {
 public:
  /// `log_path` empty: no JSON log. Lines of rounds before `first_round` are kept (a resumed run
  /// continues the log); later ones, from a run whose rounds are being redone, are dropped.
  /// `fresh` (a new run: neither continue=1 nor model_in, whatever start_counter says): a log
  /// holding rounds is another run's, and an error (two runs given one log= replaced each
  /// other's history without a word). `resumed` (continue=1 found round first_round - 1's
  /// model): that round, and any back to the log's last kept line, should have lines; where
  /// they lack them, a note says so.
  Progress(bool silent, long print_step, const std::string& log_path, int first_round = 1, bool fresh = false,
           bool resumed = false);
  void StartRound(int round);
  /// After each batch: instances so far this round and running figures.
  void Batch(long instances, const Figures& running);
  /// Ends the round: the cxxnet line on stdout, and a JSON line with `extra` fields.
  /// `results_line`: the round's `[N]\t...` line on stdout (test_io has none, as cxxnet's).
  void EndRound(const Figures& results, const Figures& extra, bool results_line = true);

 private:
  double Seconds() const;
  /// Makes `file` (an open log, or null) log_, closing the one before, and locks it; a lock
  /// another process holds is an error.
  void LockLog(std::FILE* file);
  bool silent_, tty_;
  long print_step_, batches_ = 0, instances_ = 0, last_round_instances_ = 0;
  int round_ = 0;
  // Closed, its lock with it, also when the constructor throws after opening it.
  struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, CloseFile> log_;
  std::string log_path_;
  // A named pipe's write end, held from the check that a reader is there (the constructor) to the
  // end: closing it at once could end a reader (cat) before the log's own open.
  std::unique_ptr<std::FILE, CloseFile> pipe_held_;
  std::chrono::steady_clock::time_point start_, last_draw_, last_batch_;
};

}  // namespace umbra::train
