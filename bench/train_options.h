// The command line both training benchmarks share (bench_train, bench_train_gpu): which nets,
// steps per timed run, timed runs, the example configs' folder and --profile DIR. Each adds its
// own flags beside these (--memory, --graph).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "nets.h"

namespace umbra::bench {

struct TrainOptions {
  std::vector<std::string> nets;
  int steps = 20, reps = 5;
  std::string configs = UMBRA_EXAMPLE_CONFIGS, profile;
  /// `device` names the profile files: DIR/profile-<device>.{md,jsonl}.
  void AddTo(CLI::App& app, const std::string& device) {
    app.add_option("--net", nets, "nets to run")->check(CLI::IsMember(NetNames()));
    app.add_option("--steps", steps, "steps per timed run")->check(CLI::PositiveNumber);
    app.add_option("--reps", reps, "timed runs (median reported)")->check(CLI::PositiveNumber);
    app.add_option("--configs", configs, "folder of the example configs");
    app.add_option("--profile", profile, "also time every layer; write DIR/profile-" + device + ".{md,jsonl}");
  }
};

}  // namespace umbra::bench
