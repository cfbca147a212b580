// Profiler: where a training step's time goes, layer by layer — what to know before making a
// net faster. A step is cut at marks: its start, after each layer's forward, after each layer's
// backward (in backward order) and after the updates. On the cpu a mark is the wall clock; on
// the gpu it is a CUDA event on the stream the layers run on, so an interval is the device time
// between two marks: the layer's kernels plus any time the device sat waiting for the host to
// launch them (a launch-bound layer shows more time than its kernels need). Marking costs an
// event record per layer; nets without a profiler attached only test a null pointer.
// Bytes per layer count each node value, gradient and weight it touches once (Net::ProfileRows),
// so that bytes / time shows how far an elementwise layer is from the memory bandwidth.
#pragma once

#include <chrono>
#include <string>
#include <type_traits>
#include <vector>

#include "umbra/tensor.h"

namespace umbra::nn {

/// One layer's share of a step, averaged over the profiled steps.
struct LayerProfile {
  std::string name, type;
  double fwd_ms = 0, bwd_ms = 0;
  /// Bytes the layer moves, each tensor counted once: forward reads inputs and weights and writes
  /// outputs; backward reads inputs, weights and output gradients and writes input and weight
  /// gradients.
  double fwd_bytes = 0, bwd_bytes = 0;
  /// How the layer ran (Layer::Implementation, read after the profiled steps).
  std::string how;
};

struct StepProfile {
  std::vector<LayerProfile> layers;  // in forward order
  double update_ms = 0;              // all updaters after backward
  double device_ms = 0;              // first mark to last, per step
  double wall_ms = 0;                // host time of the whole step, to the device finishing
  int steps = 0;
};

/// Records marks for one device. Net and Trainer call Mark(); Begin/End bracket one step.
template <typename xpu>
class StepMarks {
 public:
  StepMarks() = default;
  StepMarks(const StepMarks&) = delete;
  StepMarks& operator=(const StepMarks&) = delete;
  ~StepMarks() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (std::is_same_v<xpu, gpu>)
      for (cudaEvent_t e : events_) cudaEventDestroy(e);
#endif
  }
  void Begin() {
    used_ = 0;
    wall0_ = Clock::now();
    Mark();
  }
  void Mark() {
    if constexpr (std::is_same_v<xpu, cpu>) {
      if (used_ == times_.size()) times_.push_back({});
      times_[used_++] = Clock::now();
    } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      if (used_ == events_.size()) {
        events_.push_back(nullptr);
        UMBRA_CUDA_CHECK(cudaEventCreate(&events_.back()));
      }
      // The default stream: where the net's layers run (net.h leaves tensors on it).
      UMBRA_CUDA_CHECK(cudaEventRecord(events_[used_++], cuda::DefaultStream()));
#endif
    }
  }
  /// Waits for the device, then returns the intervals between consecutive marks (ms) and the
  /// step's wall time.
  std::vector<double> End(double* wall_ms) {
    std::vector<double> ms;
    if constexpr (std::is_same_v<xpu, cpu>) {
      for (size_t k = 1; k < used_; ++k)
        ms.push_back(std::chrono::duration<double, std::milli>(times_[k] - times_[k - 1]).count());
    } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      UMBRA_CUDA_CHECK(cudaEventSynchronize(events_[used_ - 1]));
      for (size_t k = 1; k < used_; ++k) {
        float t = 0;
        UMBRA_CUDA_CHECK(cudaEventElapsedTime(&t, events_[k - 1], events_[k]));
        ms.push_back(t);
      }
#endif
    }
    *wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - wall0_).count();
    return ms;
  }

 private:
  using Clock = std::chrono::steady_clock;
  size_t used_ = 0;
  Clock::time_point wall0_;
  std::vector<Clock::time_point> times_;
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  std::vector<cudaEvent_t> events_;
#endif
};

}  // namespace umbra::nn
