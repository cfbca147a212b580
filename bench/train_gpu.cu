// Training throughput on the GPU (issue 6's measure): forward + backward + SGD-momentum update
// on synthetic data already on the device, images/s as the median of --reps timed runs of
// --steps steps after one warm-up run (which also lets cuDNN choose its algorithms), and the
// caching allocator's peak during the timed runs, with what the peak holds that is known before
// a step (node_mib, weight_mib, input_mib) and the smallest and median gap of the node arena
// the convolutions' passes lend their cuDNN workspaces (conv_gap_min_mib, conv_gap_median_mib:
// a workspace up to its pass's gap adds nothing to the peak). Nets: bench/nets.h (lenet, cifar, and the
// example configs alexnet, resnet18 and resnet50 in torchvision's layouts).
// bench/train_torch.py --device cuda is the PyTorch peer; run.py --gpu-train prints both.
// --profile DIR also times every layer with CUDA events (nn::Trainer::Profile) and writes
// DIR/profile-gpu.md (tables) and DIR/profile-gpu.jsonl (every layer). --graph measures each
// net again with its steps replayed from CUDA graphs (Trainer::set_cuda_graph): graph_img_per_s,
// or graph_note saying why the trainer refused them. --own-kernels measures
// each net again with algo=expr on every layer that takes it (avg pooling, batch norm, relu/
// sigmoid/tanh, softmax: umbra's expression kernels instead of cuDNN's; convolutions stay on
// cuDNN; max pooling keeps its default, umbra's kernels, over the slower expressions):
// own_img_per_s, which says per net whether cuDNN is the right default for those layers; for
// nets with batch norms also every batch norm on cuDNN (algo=cudnn; algo=auto takes umbra's
// kernels): cudnn_bn_img_per_s. --big-workspace measures
// each net again with every convolution's cuDNN search capped at 8 GiB of workspace instead of
// the default 1 GiB (ws8g_img_per_s, ws8g_peak_mib): whether algorithms past the cap are the
// convolutions' gap to PyTorch (AlexNet's conv1 weight gradient took 2.09 ms, twice its forward).
// --legacy-search measures each net again with its convolutions' searches as before the graph
// API's engine configurations joined them (cudnn_search = legacy: cuDNN's legacy algorithms and
// umbra's backward GEMMs): legacy_search_img_per_s and legacy_search_peak_mib, what the engines
// gain. --conv-search legacy|engines sets every run's searches so (the default, all, takes
// both and umbra's GEMMs), and the row says "conv_search": run.py's second try for a net
// whose run crashed or failed. A net's row is printed as it starts and again after each run,
// "partial": true until its last, so that a process that dies names the net and keeps what it
// measured.
// --bf16 measures each net again with dtype=bf16 on every layer that takes it (convolutions and
// fullc: bfloat16 operands, fp32 accumulation and master weights): bf16_img_per_s, beside
// PyTorch's bf16 autocast (train_torch.py --bf16), and again with the activations between them in
// bfloat16 too (NetSpec::bf16_nodes, as autocast keeps them): bf16_nodes_img_per_s, and that
// channels-last as well (the issue's bf16 reference is autocast + channels-last):
// bf16_nodes_nhwc_img_per_s (batch norms on umbra's kernels, relus fused: algo=auto's choice
// channels-last). --nhwc measures each net again channels-last (NetSpec::channels_last: cuDNN's
// NHWC convolutions and pooling, transposes where the layout changes; the synthetic batch made
// channels-last, NetSpec::input_channels_last, as PyTorch's channels-last runs make theirs):
// nhwc_img_per_s and nhwc_peak_mib, with --graph also nhwc_graph_img_per_s (batch norms on
// umbra's kernels, algo=auto's choice channels-last: statistics kernels over (N*H*W, C) rows,
// relus fused, the layout and BN + ReLU fusion the issue credits for torch.compile's ResNet
// gain). Neither trains with cuDNN's channels-last batch norm: 12-15x slower than umbra's
// kernels a layer on the H200 (bench/RESULTS.md, 2026-12-04), and those runs took the device
// time the stages did not have (NhwcGPU and Bf16NodesGPU test that path).
// --unfused measures each net again with every relu and sum run as written (NetSpec::fuse_relu
// and fuse_add off; by default relus after sums, and after batch norms on the expression path,
// and sums after such batch norms, run inside them): unfused_img_per_s, with --own-kernels also
// own_unfused_img_per_s (batch norm + add + relu fused or not, on umbra's kernels).
// --unfused-add (with --own-kernels, nets with batch norms): own kernels again with the residual
// sums run as written and relus fused (NetSpec::fuse_add off): own_unfused_add_img_per_s, what
// adding the shortcut in the batch norm's pass gains.
// --read-loss measures each net again reading its loss as a training run does: each step
// (read_each_img_per_s: Trainer::Step, the host waits for the device every step, as umbra's
// training loop did before it read losses a print_step window at a time) and once per run of
// --steps steps (read_window_img_per_s: Net::LossTo into a device slot per step, one copy at the
// end, as the loop does now). The default figure reads no loss, like the PyTorch peer.
//   bench_train_gpu [--net lenet cifar alexnet resnet18 resnet50] [--steps 20] [--reps 5]
//                   [--configs DIR] [--profile DIR] [--graph] [--own-kernels] [--bf16] [--nhwc]
//                   [--unfused] [--unfused-add] [--read-loss] [--big-workspace] [--legacy-search]
//                   [--conv-search all|legacy|engines]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "profile_report.h"
#include "train_options.h"
#include "umbra/nn/trainer.h"
#include "umbra/tensor/cuda/allocator.h"

using namespace umbra;

namespace {

struct Result {
  double img_per_s, peak_mib;
  std::string graph_note;  // with graphs asked for: why they were refused, if they were
  // What the peak holds that is known before a step (MiB): the net's node arena (with the
  // passes' scratch the first step planned into it: Net::PlanScratch), the weights with their
  // gradients and momentum, the synthetic batch and its labels. The peak's rest is cuDNN's
  // workspaces beyond their pass's gap in the arena (PassScratch), layers' scratch and the
  // allocator's rounding.
  double node_mib, weight_mib, input_mib;
  // The gaps of the arena the convolutions' passes lend their scratch (PassScratch), MiB: the
  // smallest and the median over every convolution's forward and backward. A cuDNN workspace
  // up to its pass's gap adds nothing to the peak.
  double conv_gap_min_mib = 0, conv_gap_median_mib = 0;
};

// A note as a JSON string body (capture errors quote CUDA's messages).
std::string JsonEscaped(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o;
}

// How a net is run: the default, or one of the variants measured beside it.
struct Variant {
  bool graph = false, own_kernels = false, bf16 = false, nhwc = false, fuse_relu = true, fuse_add = true;
  bool cudnn_bn = false;  // algo=cudnn on the batch norms alone
  bool bf16_nodes = false;  // with bf16: activations in bfloat16 too (NetSpec::bf16_nodes)
  int workspace_mib = 0;  // > 0: every convolution's cudnn_workspace cap (the default is 1,024)
  bool legacy_search = false;  // every convolution's cudnn_search = legacy
  enum Read { kNever, kEachStep, kWindow } read = kNever;  // the loss's way to the host
};

Result Run(const std::string& name, const std::string& configs, const std::string& search, int steps, int reps,
           bench::ProfileFiles& prof, const Variant& v) {
  // Each variant from an empty cache, as in a process of its own: the allocator hands out a
  // cached block of up to twice a request, so a net built on the blocks of the one before it
  // could count their slack in its peak (a bf16 net's arena in an fp32 net's block).
  cuda::CachingAllocator::Get().EmptyCache();
  nn::NetSpec spec = bench::NetByName(name, configs);
  spec.channels_last = v.nhwc;
  spec.input_channels_last = v.nhwc;  // the batch made channels-last, as PyTorch's channels-last runs make it
  spec.fuse_relu = v.fuse_relu;
  spec.fuse_add = v.fuse_add;
  spec.bf16_nodes = v.bf16_nodes;
  if (v.own_kernels) {
    nn::SetKeyWhereTaken<gpu>(spec, "algo", "expr");
    nn::SetKeyWhereTaken<gpu>(spec, "algo", "auto", "max_pooling");  // umbra's kernels already
  }
  if (v.cudnn_bn) nn::SetKeyWhereTaken<gpu>(spec, "algo", "cudnn", "batch_norm");
  if (v.bf16) nn::SetKeyWhereTaken<gpu>(spec, "dtype", "bf16");
  if (v.workspace_mib > 0) nn::SetKeyWhereTaken<gpu>(spec, "cudnn_workspace", std::to_string(v.workspace_mib), "conv");
  const std::string s = v.legacy_search ? "legacy" : search;
  if (s != "all") nn::SetKeyWhereTaken<gpu>(spec, "cudnn_search", s, "conv");
  nn::UpdaterSettings us;
  us.Set("lr", "0.01");
  us.Set("momentum", "0.9");
  nn::Trainer<gpu> trainer(spec, us);
  trainer.set_cuda_graph(v.graph);
  const Shape<4> in_shape = trainer.net().NodeByName("in").shape;  // (N, H, W, C) in the nhwc variants
  TensorContainer<gpu, 4> x(in_shape);
  TensorContainer<gpu, 2> y(Shape2(spec.input_shape[0], 1));
  {
    // The batch drawn on the device: a host copy was 77 MB a ResNet run, filled by one CPU
    // thread and copied over for each of a stage's runs (set-up, never timed, but device time).
    Random<gpu> rnd(1);
    rnd.SampleUniform(&x);
    TensorContainer<cpu, 2> hy(y.shape_);
    const index_t classes = trainer.net().Output().shape.ProdShape(1, 4);
    for (index_t i = 0; i < hy.Size(); ++i) hy.dptr_[i] = float(i % classes);
    Copy(y.view(), hy.view());
  }
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  std::vector<double> rates;
  TensorContainer<gpu, 1> slots(Shape1(steps));
  TensorContainer<cpu, 1> losses(Shape1(steps));
  for (int r = 0; r <= reps; ++r) {
    UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
    if (r == 1) cuda::CachingAllocator::Get().ResetHighWater(dev);  // the peak of a warm step
    const auto t0 = std::chrono::steady_clock::now();
    // By default Train: no loss read-back, like the PyTorch loop (which never calls .item()).
    double sum = 0;
    for (int s = 0; s < steps; ++s) {
      if (v.read == Variant::kEachStep) {
        sum += trainer.Step(x.view(), y.view());
      } else {
        trainer.Train(x.view(), y.view());
        if (v.read == Variant::kWindow) trainer.net().LossTo(slots.view().Slice(s, s + 1));
      }
    }
    if (v.read == Variant::kWindow) {
      CopyToHost(losses.view(), slots.view());
      for (int s = 0; s < steps; ++s) sum += losses.dptr_[s];
    }
    UMBRA_CHECK(std::isfinite(sum), name, ": the training loss is ", sum);
    UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) rates.push_back(steps * spec.input_shape[0] / secs);  // run 0 warms up
  }
  const double peak = double(cuda::CachingAllocator::Get().GetStats(dev).high_water) / (1 << 20);
  if (prof.on())  // after the peak is read, so that the profile is not part of it
    prof.Add(name, spec.input_shape[0], trainer.Profile(x.view(), y.view(), steps));
  std::sort(rates.begin(), rates.end());
  double weights = 0;  // floats: moving statistics have a (zero) gradient but no momentum
  trainer.net().VisitWeights([&](const std::string& w, Tensor<gpu, 2> t, Tensor<gpu, 2> g) {
    weights += double(t.Size() + g.Size()) + (w.find(".moving_") == std::string::npos ? double(t.Size()) : 0);
  });
  const double mib = 4.0 / (1 << 20);
  std::vector<double> gaps;
  const nn::Net<gpu>& net = trainer.net();
  for (size_t l = 0; l < net.NumLayers(); ++l)
    if (std::string(trainer.net().LayerAt(l).Type()) == "conv")
      for (bool backward : {false, true}) gaps.push_back(double(net.GapBytes(l, backward)) / (1 << 20));
  std::sort(gaps.begin(), gaps.end());
  return {rates[rates.size() / 2], peak, trainer.graph_note(), double(net.NodeElements()) * mib, weights * mib,
          double(x.Size() + y.Size()) * mib, gaps.empty() ? 0 : gaps.front(), gaps.empty() ? 0 : gaps[gaps.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"umbra GPU training throughput"};
  bench::TrainOptions o;
  o.nets = {"lenet", "cifar", "alexnet", "resnet18", "resnet50"};
  o.AddTo(app, "gpu");
  bool graph = false;
  app.add_flag("--graph", graph, "measure again with steps replayed from CUDA graphs");
  bool own = false;
  app.add_flag("--own-kernels", own, "measure again with umbra's kernels for the layers that default to cuDNN (not conv)");
  bool bf16 = false;
  app.add_flag("--bf16", bf16, "measure again with dtype=bf16 on the convolutions and fullc layers");
  bool nhwc = false;
  app.add_flag("--nhwc", nhwc, "measure again channels-last (NHWC convolutions and pooling)");
  bool unfused = false, unfused_add = false;
  app.add_flag("--unfused", unfused, "measure again with every relu and sum run as written (no fusion into batch norms or sums)");
  app.add_flag("--unfused-add", unfused_add,
               "with --own-kernels, for nets with batch norms: measure again with the sums run as written (relus fused)");
  bool read_loss = false;
  app.add_flag("--read-loss", read_loss, "measure again reading the loss each step, and once per run of steps");
  bool big_workspace = false;
  app.add_flag("--big-workspace", big_workspace,
               "measure again with cuDNN's convolution searches capped at 8 GiB of workspace instead of 1 GiB");
  bool legacy = false;
  app.add_flag("--legacy-search", legacy,
               "measure again with cuDNN's convolution searches without its graph API's engine configurations");
  std::string search = "all";
  app.add_option("--conv-search", search,
                 "every run's convolution searches (cudnn_search): all, legacy or engines; a row says one not all")
      ->check(CLI::IsMember({"all", "legacy", "engines"}));
  CLI11_PARSE(app, argc, argv);
  bench::ProfileFiles prof;
  try {
    if (GPUCount() == 0) {
      std::fprintf(stderr, "no CUDA device: GPU training benchmarks skipped\n");
      return 0;
    }
    if (!o.profile.empty()) prof.Open(o.profile, "gpu");
    bool failed = false;
    for (auto& n : o.nets) {
      // The net's line is built as it goes: a variant that fails (an error umbra names) ends
      // the line with its message and the next net still runs, so one failure loses one row.
      std::string line;
      auto add = [&line](const char* fmt, auto... a) {  // numbers and net names: short
        char buf[256];
        std::snprintf(buf, sizeof buf, fmt, a...);
        line += buf;
      };
      bench::ProfileFiles none;  // only the default run is profiled (profiled steps run plainly)
      auto run = [&](const Variant& v) { return Run(n, o.configs, search, o.steps, o.reps, none, v); };
      // The row so far, marked partial, as the net starts and after each run: a process that
      // dies in it (a library call that kills it, a kernel fault) names the net and leaves the
      // figures it had (run.py keeps a net's last row and measures it again in a process of
      // its own).
      auto partial = [&line, &n] {
        std::printf("%s, \"partial\": true}\n", line.empty() ? ("{\"net\": \"" + n + "\"").c_str() : line.c_str());
        std::fflush(stdout);
      };
      partial();
      try {
        const Result r = Run(n, o.configs, search, o.steps, o.reps, prof, Variant{});
        add("{\"net\": \"%s\", \"img_per_s\": %.1f, \"peak_mib\": %.0f", n.c_str(), r.img_per_s, r.peak_mib);
        if (search != "all") add(", \"conv_search\": \"%s\"", search.c_str());
        add(", \"node_mib\": %.1f, \"weight_mib\": %.1f, \"input_mib\": %.1f", r.node_mib, r.weight_mib, r.input_mib);
        add(", \"conv_gap_min_mib\": %.1f, \"conv_gap_median_mib\": %.1f", r.conv_gap_min_mib, r.conv_gap_median_mib);
        partial();
        // A variant's figures under its key: KEY_img_per_s and KEY_peak_mib. A graph variant
        // the trainer refused adds its reason (graph_note, for the default layout) instead.
        auto put = [&](const char* key, const Variant& v) {
          const Result x = run(v);
          if (!x.graph_note.empty()) {
            if (std::string(key) == "graph") line += ", \"graph_note\": \"" + JsonEscaped(x.graph_note) + "\"";
            return;
          }
          add(", \"%s_img_per_s\": %.1f, \"%s_peak_mib\": %.0f", key, x.img_per_s, key, x.peak_mib);
          partial();
        };
        if (graph) put("graph", {.graph = true});
        if (unfused) put("unfused", {.fuse_relu = false, .fuse_add = false});
        if (read_loss) {
          const Result e = run({.read = Variant::kEachStep}), w = run({.read = Variant::kWindow});
          add(", \"read_each_img_per_s\": %.1f, \"read_window_img_per_s\": %.1f", e.img_per_s, w.img_per_s);
        }
        if (own) put("own", {.own_kernels = true});
        if (own && unfused) put("own_unfused", {.own_kernels = true, .fuse_relu = false, .fuse_add = false});
        nn::NetSpec probe = bench::NetByName(n, o.configs);
        const bool has_bn = !nn::SetKeyWhereTaken<gpu>(probe, "algo", "expr", "batch_norm").empty();
        if (own && has_bn) put("cudnn_bn", {.cudnn_bn = true});  // every batch norm cuDNN's, as before 2026-12-04
        if (big_workspace) put("ws8g", {.workspace_mib = 8192});
        if (legacy) put("legacy_search", {.legacy_search = true});
        if (own && unfused_add && has_bn) put("own_unfused_add", {.own_kernels = true, .fuse_add = false});
        if (bf16) put("bf16", {.bf16 = true});
        if (bf16) put("bf16_nodes", {.bf16 = true, .bf16_nodes = true});
        if (bf16) put("bf16_nodes_nhwc", {.bf16 = true, .nhwc = true, .bf16_nodes = true});
        if (nhwc) {
          put("nhwc", {.nhwc = true});
          if (graph) put("nhwc_graph", {.graph = true, .nhwc = true});
        }
      } catch (const std::exception& e) {
        if (line.empty()) add("{\"net\": \"%s\"", n.c_str());
        line += ", \"error\": \"" + JsonEscaped(e.what()) + "\"";
        failed = true;
      }
      std::printf("%s}\n", line.c_str());
      std::fflush(stdout);
    }
    if (failed) return 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
