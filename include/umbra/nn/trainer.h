// Trainer: one network and one updater per trainable weight, fed batch by batch. Step() runs
// forward, backward and (every update_period steps) the updates; Predict() runs a test-mode
// forward. The config-driven trainer with data iterators, rounds and model files builds on it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "umbra/nn/net.h"
#include "umbra/nn/profiler.h"
#include "umbra/nn/sgd_multi.h"
#include "umbra/nn/step_graph.h"
#include "umbra/nn/updater.h"

namespace umbra::nn {

template <typename xpu, typename DType = float>
class Trainer {
 public:
  Trainer(const NetSpec& spec, UpdaterSettings settings, int update_period = 1)
      : net_(spec), settings_(std::move(settings)), update_period_(update_period) {
    UMBRA_CHECK(update_period >= 1, "update_period must be >= 1, got ", update_period);
    net_.VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType>) {
      // Moving statistics (batch norm) are updated by their layer, not by an updater.
      if (name.find(".moving_") != std::string::npos) return;
      UpdaterParam p = settings_.For(name);
      // Gradients summed over update_period steps: average them.
      p.grad_scale /= float(update_period_);
      fusable_ = fusable_ && p.updater == "sgd" && p.clip_gradient == 0;
      try {
        updaters_.emplace(name, std::make_unique<Updater<xpu, DType>>(p, w.shape_));
      } catch (const Error& e) {
        // "out of host memory: asked for 3136000000 bytes" named no weight nor stage.
        const double gib = double(w.shape_.Size()) * sizeof(DType) * (p.updater == "adam" ? 2 : 1) / double(1 << 30);
        UMBRA_THROW("the updater's state of weight '", name, "' (", p.updater == "adam" ? "Adam's two moments" : "momentum",
                    ", ", gib, " GiB): ", e.message());
      }
    });
  }

  /// One training step on a batch (N, C, H, W) with labels (N, width); returns the loss.
  double Step(const Tensor<xpu, 4, DType>& input, const Tensor<xpu, 2, DType>& label) {
    Train(input, label);
    return net_.Loss();
  }
  /// The same step without reading the loss: on the gpu nothing waits for the device (the
  /// loss of the last step stays readable as net().Loss()).
  void Train(const Tensor<xpu, 4, DType>& input, const Tensor<xpu, 2, DType>& label) {
    if (!scopes_checked_) CheckScopes(), scopes_checked_ = true;
    if (!(graph_on_ && !marks_ && TrainFromGraph(input, label))) {
      net_.Forward(true, input, &label);
      net_.Backward();
    }
    ++steps_;
    if (++pending_ == update_period_) {
      pending_ = 0;
      if (fused_update_ && fusable_) {
        FusedUpdate();
      } else {
        net_.VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType> g) {
          auto it = updaters_.find(name);
          if (it != updaters_.end()) it->second->Update(w, g, updates_);
        });
      }
      ++updates_;
    }
    if (marks_) marks_->Mark();
  }
  /// Runs `steps` training steps (real ones: the weights move) with the net's layers timed, and
  /// returns the mean time of each layer's forward and backward, of the updates and of the step.
  StepProfile Profile(const Tensor<xpu, 4, DType>& input, const Tensor<xpu, 2, DType>& label, int steps) {
    UMBRA_CHECK(steps >= 1, "Profile needs at least one step, got ", steps);
    StepMarks<xpu> marks;
    marks_ = &marks;
    net_.set_marks(&marks);
    struct Detach {  // the marks die with this call, also when a step throws
      Trainer* t;
      ~Detach() { t->marks_ = nullptr, t->net_.set_marks(nullptr); }
    } detach{this};
    StepProfile p;
    p.layers = net_.ProfileRows();
    const size_t nl = p.layers.size();
    for (int s = 0; s < steps; ++s) {
      marks.Begin();
      Train(input, label);
      double wall = 0;
      const std::vector<double> ms = marks.End(&wall);
      // Intervals: the input copy, nl forwards, nl backwards (last layer first), the updates.
      UMBRA_CHECK(ms.size() == 2 * nl + 2, "profile: ", ms.size(), " intervals for ", nl, " layers");
      for (size_t i = 0; i < nl; ++i) {
        p.layers[i].fwd_ms += ms[1 + i] / steps;
        p.layers[i].bwd_ms += ms[2 * nl - i] / steps;
      }
      p.update_ms += ms.back() / steps;
      for (double t : ms) p.device_ms += t / steps;
      p.wall_ms += wall / steps;
    }
    for (size_t i = 0; i < nl; ++i) p.layers[i].how = net_.LayerAt(i).Implementation();
    p.steps = steps;
    return p;
  }
  /// Test-mode forward; the output node (the last layer's: see Net::OutputPastTheLoss where a
  /// layer was declared after the loss) holds predictions afterwards.
  const Node<xpu, DType>& Predict(const Tensor<xpu, 4, DType>& input) {
    net_.Forward(false, input, nullptr);
    return net_.Output();
  }
  Net<xpu, DType>& net() { return net_; }
  /// On the gpu, when every weight uses sgd without clipping, one fused launch updates all
  /// weights (sgd_multi.h); off, each weight's Updater runs its own kernels (the reference).
  void set_fused_update(bool on) { fused_update_ = on; }
  bool fused_update() const { return fused_update_ && fusable_; }
  /// On the gpu: after one ordinary step, capture forward + backward into a CUDA graph per
  /// pair of input and label buffers and replay it (the updates stay ordinary launches, since
  /// the learning rate moves). Dropout and rrelu draw uniform numbers from a counter in device
  /// memory, so each replay draws new ones (random.h). Refused, and the steps run as before,
  /// when a step draws numbers a replay would repeat (normal numbers, by cuRAND's host-side
  /// generator: no layer does in a step), when capture fails, or when the buffers change more
  /// often than kMaxGraphs pairs; graph_note() says why. Profiled steps do not use
  /// graphs (their marks are events between the layers).
  void set_cuda_graph(bool on) {
    UMBRA_CHECK(!on || !(std::is_same_v<xpu, cpu>), "CUDA graphs need a gpu net (dev=gpu)");
    graph_on_ = on;
    graph_note_.clear();
    graph_warm_ = false;  // the first step after (re)enabling runs plainly and is checked again
    if (!on) ClearGraphs();
  }
  bool cuda_graph() const { return graph_on_; }
  const std::string& graph_note() const { return graph_note_; }
  /// Graphs captured so far (one per pair of input and label buffers).
  size_t num_graphs() const {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (std::is_same_v<xpu, gpu>) return graphs_.size();
#endif
    return 0;
  }
  static constexpr size_t kMaxGraphs = 4;
  long updates() const { return updates_; }
  void set_updates(long n) { updates_ = n; }
  /// Steps taken; with update_period > 1, gradients of steps since the last update are pending
  /// in the weights' gradient buffers.
  long steps() const { return steps_; }
  void set_steps(long n) { steps_ = n; }
  int update_period() const { return update_period_; }
  /// Steps whose gradients wait for the next update (0 .. update_period - 1): counted apart from
  /// steps() so that a run resumed with another update_period starts its periods afresh.
  long pending_steps() const { return pending_; }
  void set_pending_steps(long n) {
    UMBRA_CHECK(n >= 0 && n < update_period_, "pending steps ", n, " outside 0 .. update_period - 1 = ",
                update_period_ - 1);
    pending_ = n;
  }
  bool pending_gradients() const { return pending_ != 0; }

  /// Visits the updater state of every weight as "layer.tag:state" (sgd/nag: "momentum"; adam:
  /// "momentum", "second_moment") — with the weights and the update counter, what a model file
  /// saves so that a resumed run continues exactly. Tensors may be written (to restore).
  void VisitUpdaterState(const std::function<void(const std::string&, Tensor<xpu, 2, DType>)>& v) {
    for (auto& [name, u] : updaters_) {
      const auto state = u->State();
      for (size_t k = 0; k < state.size(); ++k) v(name + (k == 0 ? ":momentum" : ":second_moment"), state[k]);
    }
  }

 private:
  // A key scoped to something the net lacks (`fc9:lr = 0`, `fc1:wmatt:lr`) did nothing, unsaid.
  // Checked at the first step, not in the constructor, so that the CLI's check, which names the
  // key's line (train_task.cc), comes first; this one holds for settings built in code.
  void CheckScopes() {
    std::vector<std::string> names;
    std::string weights;
    net_.VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType>, Tensor<xpu, 2, DType>) {
      names.push_back(name);
      weights += (weights.empty() ? "" : ", ") + name;
    });
    const std::set<std::string> known = ScopeNames(names);
    for (const std::string& scope : settings_.Scopes())
      UMBRA_CHECK(known.count(scope), "updater settings scoped to '", scope, "': the net has no layer with ",
                  "weights, weight tag or weight of that name; its weights: ", weights.empty() ? "none" : weights);
  }

  // Runs the step's forward and backward from a graph (capturing it first when needed);
  // false when the caller must run them itself.
  bool TrainFromGraph(const Tensor<xpu, 4, DType>& input, const Tensor<xpu, 2, DType>& label) {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (std::is_same_v<xpu, gpu>) {
      const auto step = [&] {
        net_.Forward(true, input, &label);
        net_.Backward();
      };
      // Replays skip Forward's checks: anything but the net's input shape and dense buffers
      // runs plainly (and fails there with the usual message if it is wrong).
      if (input.shape_ != net_.NodeByName("in").shape || !input.CheckContiguous() || !label.CheckContiguous())
        return false;
      if (cudaGraphExec_t g = graphs_.Find(input.dptr_, label.dptr_, label.shape_)) {
        UMBRA_CUDA_CHECK(cudaGraphLaunch(g, cuda::DefaultStream()));
        return true;
      }
      if (!graph_warm_) {
        // One ordinary step first: buffers are allocated, cuDNN picks its algorithms, and it
        // shows whether a step draws numbers a replay would repeat, and the largest block its
        // transients took (the workspaces' at most), which each graph's pool starts with. Where
        // that step planned its scratch into the net's arena (Net::PlanScratch), its transients
        // were the old plan's: one more ordinary step measures the new one's.
        const uint64_t draws = net_.RandomDraws();
        const int plans = net_.ArenaPlans();
        int dev = 0;
        UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
        auto& alloc = cuda::CachingAllocator::Get();
        alloc.ResetLargestFreed(dev);
        step();
        graph_reserve_ = alloc.LargestFreed(dev);
        graph_warm_ = net_.ArenaPlans() == plans;
        if (net_.RandomDraws() != draws)
          RefuseGraphs(kDrawsNote);
        return true;
      }
      if (graphs_.size() >= kMaxGraphs) {
        RefuseGraphs("the input or label buffers changed more than " + std::to_string(kMaxGraphs) +
                     " times; a graph replays fixed buffers");
        return false;
      }
      std::string why;
      const uint64_t draws = net_.RandomDraws();
      cudaGraphExec_t g = graphs_.Capture(input.dptr_, label.dptr_, label.shape_, step, &why, graph_reserve_);
      if (g && net_.RandomDraws() != draws) {
        // A replay would repeat the captured numbers: refuse (the step was not run yet).
        RefuseGraphs(kDrawsNote);
        return false;
      }
      if (!g) {
        RefuseGraphs(why);
        return false;
      }
      UMBRA_CUDA_CHECK(cudaGraphLaunch(g, cuda::DefaultStream()));
      return true;
    }
#endif
    (void)input, (void)label;
    return false;
  }
  static constexpr const char* kDrawsNote =
      "a training step draws random numbers from a host-side generator, which a replay would repeat";
  void RefuseGraphs(const std::string& why) {
    graph_on_ = false;
    graph_note_ = "CUDA graphs off: " + why;
    ClearGraphs();
  }
  void ClearGraphs() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (std::is_same_v<xpu, gpu>) graphs_.Clear();
#endif
  }

  void FusedUpdate() {
    if constexpr (std::is_same_v<xpu, gpu> && std::is_same_v<DType, float>) {
      segments_.clear();
      net_.VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType> g) {
        auto it = updaters_.find(name);
        if (it == updaters_.end()) return;
        const UpdaterParam& p = it->second->param();
        Tensor<xpu, 2, DType> m = it->second->State()[0];
        UMBRA_CHECK(w.CheckContiguous() && g.CheckContiguous() && m.CheckContiguous(), "weight '", name,
                    "' is not contiguous: the fused update needs it to be");
        segments_.push_back({w.dptr_, g.dptr_, m.dptr_, int64_t(w.Size()), float(p.LearningRate(double(updates_))),
                             p.wd, p.momentum, p.grad_scale});
      });
      SgdMultiTensorGPU(segments_.data(), int(segments_.size()), nullptr);  // the layers' stream
    }
  }

  Net<xpu, DType> net_;
  UpdaterSettings settings_;
  std::map<std::string, std::unique_ptr<Updater<xpu, DType>>> updaters_;
  int update_period_;
  StepMarks<xpu>* marks_ = nullptr;
  // The fused update: only on the gpu in float (the cpu's per-weight sgd is one pass already).
  bool fusable_ = std::is_same_v<xpu, gpu> && std::is_same_v<DType, float>;
  bool fused_update_ = true;
  std::vector<SgdSegment> segments_;
  bool graph_on_ = false, graph_warm_ = false;
  size_t graph_reserve_ = 0;  // bytes each graph's pool starts with (StepGraphs::Capture)
  std::string graph_note_;
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  StepGraphs graphs_;  // after net_: destroyed first, while the buffers it replays still exist
#endif
  long steps_ = 0, updates_ = 0, pending_ = 0;
  bool scopes_checked_ = false;  // CheckScopes ran (at the first step)
};

// Compiled once, beside the Net it holds (net.h): src/nn/trainer.cc and trainer.cu.
extern template class Trainer<cpu, float>;
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
extern template class Trainer<gpu, float>;
#endif

}  // namespace umbra::nn
