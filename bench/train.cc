// Training throughput of the reference nets on the CPU (forward + backward + SGD-momentum update
// on synthetic data already in memory), reported as images/s: median of --reps timed runs of
// --steps steps each, after one warm-up run. run.py --train prints PyTorch's figure beside it.
// --profile DIR also times every layer (nn::Trainer::Profile) and writes DIR/profile-cpu.md
// (tables) and DIR/profile-cpu.jsonl (every layer). --memory trains nothing: it prints, per
// net, the node storage the planner gives a training net (values and gradients, Net::PlanMemory)
// beside the plain layout's (a value and a gradient buffer per node), and the weights' storage
// with their gradients and momentum; the same bytes the gpu's allocator holds for them.
// --unfused measures each net again with every relu and sum run as written (NetSpec::fuse_relu
// and fuse_add off): unfused_img_per_s, what fusing relus into batch norms and sums, and sums
// into batch norms, gains (ResNets).
// --setup trains nothing: it times building each net as a model is built before training or
// loading (config parsed, shapes inferred, weights allocated and initialised; batch 2 and
// inference-only, so no node storage), median of --reps: setup_s. run.py --setup puts
// PyTorch's construction of the same model beside it (train_torch.py --setup).
//   bench_train [--net lenet mlp cifar ...] [--steps 20] [--reps 5] [--profile DIR] [--memory] [--unfused]
//               [--setup]
//   -> one JSON line per net
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "profile_report.h"
#include "train_options.h"
#include "umbra/nn/trainer.h"

using namespace umbra;

namespace {

double Run(const std::string& name, const std::string& configs, int steps, int reps, bench::ProfileFiles& prof,
           bool fuse = true) {  // fuse: relus and sums (NetSpec::fuse_relu, fuse_add)
  nn::NetSpec spec = bench::NetByName(name, configs);
  spec.fuse_relu = spec.fuse_add = fuse;
  nn::UpdaterSettings us;
  us.Set("lr", "0.01");
  us.Set("momentum", "0.9");
  nn::Trainer<cpu> trainer(spec, us);
  TensorContainer<cpu, 4> x(spec.input_shape);
  TensorContainer<cpu, 2> y(Shape2(spec.input_shape[0], 1));
  Random<cpu> rnd(1);
  rnd.SampleUniform(&x);
  const index_t classes = trainer.net().Output().shape.ProdShape(1, 4);
  for (index_t i = 0; i < y.Size(); ++i) y.dptr_[i] = float(i % classes);
  std::vector<double> rates;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) trainer.Step(x.view(), y.view());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) rates.push_back(steps * spec.input_shape[0] / secs);  // run 0 warms up
  }
  if (prof.on())
    prof.Add(name, spec.input_shape[0], trainer.Profile(x.view(), y.view(), steps));
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// Node and weight storage of a training net, in MiB.
void PrintMemory(const std::string& name, const std::string& configs) {
  const nn::NetSpec spec = bench::NetByName(name, configs);
  nn::Trainer<cpu> trainer(spec, nn::UpdaterSettings{});
  const nn::Net<cpu>& net = trainer.net();
  double weights = 0;
  trainer.net().VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2>) { weights += double(w.Size()); });
  const double mib = 4.0 / (1 << 20);
  std::printf("{\"net\": \"%s\", \"batch\": %lld, \"node_mib\": %.2f, \"plain_node_mib\": %.0f, "
              "\"weight_mib_x3\": %.0f}\n", name.c_str(), static_cast<long long>(spec.input_shape[0]),
              double(net.NodeElements()) * mib, double(net.NodeElementsUnshared()) * mib, 3 * weights * mib);
}

// Seconds to build the net `name` (median of reps builds, after one to warm up).
double SetupSeconds(const std::string& name, const std::string& configs, int reps) {
  std::vector<double> secs;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    nn::NetSpec spec = bench::NetByName(name, configs);
    spec.input_shape[0] = 2;
    spec.inference_only = true;
    nn::Net<cpu> net(spec);
    if (r > 0) secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  return secs[secs.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"umbra CPU training throughput"};
  bench::TrainOptions o;
  o.nets = {"lenet", "mlp", "cifar"};
  o.AddTo(app, "cpu");
  bool memory = false;
  app.add_flag("--memory", memory, "print each net's planned training memory instead of training");
  bool unfused = false;
  app.add_flag("--unfused", unfused, "measure again with every relu and sum run as written (no fusion into batch norms or sums)");
  bool setup = false;
  app.add_flag("--setup", setup, "time building each net (weights initialised) instead of training");
  CLI11_PARSE(app, argc, argv);
  if (memory || setup) {
    try {
      for (auto& n : o.nets) {
        if (memory) PrintMemory(n, o.configs);
        if (setup)
          std::printf("{\"net\": \"%s\", \"setup_s\": %.4f}\n", n.c_str(), SetupSeconds(n, o.configs, o.reps));
        std::fflush(stdout);
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  bench::ProfileFiles prof;
  try {
    SetFlushDenormals();
    if (!o.profile.empty()) prof.Open(o.profile, "cpu");
    for (auto& n : o.nets) {
      std::printf("{\"net\": \"%s\", \"img_per_s\": %.1f", n.c_str(), Run(n, o.configs, o.steps, o.reps, prof));
      if (unfused) {
        bench::ProfileFiles none;
        std::printf(", \"unfused_img_per_s\": %.1f", Run(n, o.configs, o.steps, o.reps, none, false));
      }
      std::printf("}\n");
      std::fflush(stdout);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
