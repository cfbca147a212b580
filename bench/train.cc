// Training throughput of the reference nets on the CPU (forward + backward + SGD-momentum update
// on synthetic data already in memory), reported as images/s: median of --reps timed runs of
// --steps steps each, after one warm-up run. run.py --train prints PyTorch's figure beside it.
//   bench_train [--net lenet|mlp|cifar] [--steps 20] [--reps 5]  -> one JSON line per net
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "../examples/fashion-mnist/nets.h"
#include "umbra/nn/trainer.h"

using namespace umbra;

namespace {

// Caffe's CIFAR-10 "quick" net (batch 128, 3x32x32), with cxxnet's ceil-mode pooling.
nn::NetSpec CifarQuickSpec(index_t batch) {
  using examples::L;
  nn::NetSpec s;
  s.input_shape = Shape4(batch, 3, 32, 32);
  s.defaults = {{"init", "gaussian"}, {"init_sigma", "0.01"}};
  s.layers = {
      L("conv", "conv1", "in", "c1", {{"nchannel", "32"}, {"kernel_size", "5"}, {"pad", "2"}}),
      L("max_pooling", "pool1", "c1", "p1", {{"kernel_size", "3"}, {"stride", "2"}}),
      L("relu", "relu1", "p1", "p1"),
      L("conv", "conv2", "p1", "c2", {{"nchannel", "32"}, {"kernel_size", "5"}, {"pad", "2"}}),
      L("relu", "relu2", "c2", "c2"),
      L("avg_pooling", "pool2", "c2", "p2", {{"kernel_size", "3"}, {"stride", "2"}}),
      L("conv", "conv3", "p2", "c3", {{"nchannel", "64"}, {"kernel_size", "5"}, {"pad", "2"}}),
      L("relu", "relu3", "c3", "c3"),
      L("avg_pooling", "pool3", "c3", "p3", {{"kernel_size", "3"}, {"stride", "2"}}),
      L("flatten", "flat", "p3", "f"),
      L("fullc", "fc1", "f", "h1", {{"nhidden", "64"}}),
      L("fullc", "fc2", "h1", "h2", {{"nhidden", "10"}}),
      L("softmax", "loss", "h2", "prob")};
  return s;
}

double Run(const std::string& name, int steps, int reps) {
  nn::NetSpec spec = name == "mlp"     ? examples::MlpSpec(100)
                     : name == "lenet" ? examples::LeNetSpec(100)
                                       : CifarQuickSpec(128);
  nn::UpdaterSettings us;
  us.Set("lr", "0.01");
  us.Set("momentum", "0.9");
  nn::Trainer<cpu> trainer(spec, us);
  TensorContainer<cpu, 4> x(spec.input_shape);
  TensorContainer<cpu, 2> y(Shape2(spec.input_shape[0], 1));
  Random<cpu> rnd(1);
  rnd.SampleUniform(&x);
  for (index_t i = 0; i < y.Size(); ++i) y.dptr_[i] = float(i % 10);
  std::vector<double> rates;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) trainer.Step(x.view(), y.view());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) rates.push_back(steps * spec.input_shape[0] / secs);  // run 0 warms up
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"umbra CPU training throughput"};
  std::vector<std::string> nets{"lenet", "mlp", "cifar"};
  int steps = 20, reps = 5;
  app.add_option("--net", nets, "nets to run")->check(CLI::IsMember({"lenet", "mlp", "cifar"}));
  app.add_option("--steps", steps, "steps per timed run");
  app.add_option("--reps", reps, "timed runs (median reported)");
  CLI11_PARSE(app, argc, argv);
  try {
    SetFlushDenormals();
    for (auto& n : nets)
      std::printf("{\"net\": \"%s\", \"img_per_s\": %.1f}\n", n.c_str(), Run(n, steps, reps));
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
