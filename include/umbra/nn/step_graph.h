// StepGraphs: a training step's forward and backward captured once into a CUDA graph and then
// replayed with one launch, instead of a launch per kernel (what bounds small nets on a fast
// GPU). A graph replays the addresses it was captured with, so there is one per pair of input
// and label buffers (a double-buffered feeder needs two); the blocks its step takes from the
// caching allocator stay its own (allocator.h, capture pools). Trainer decides when to capture
// and when graphs cannot be used (trainer.h). GPU builds only.
// Contract: a buffer allocated before the capture (in the uncaptured warm-up step) and read
// by the graph must not be freed or resized while the graph lives: the allocator would give
// it to another user while replays still write it. Layers reallocate only when a shape
// changes, and a training run's shapes are fixed; a change of shapes must Clear() first.
#pragma once

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "umbra/tensor.h"
#include "umbra/tensor/cuda/allocator.h"

namespace umbra::nn {

class StepGraphs {
 public:
  StepGraphs() = default;
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;
  ~StepGraphs() { Clear(); }

  /// The graph captured for these buffers (the label's shape too: its width is not the net's
  /// to check), or null.
  cudaGraphExec_t Find(const void* input, const void* label, const Shape<2>& label_shape) const {
    for (auto& e : entries_)
      if (e.input == input && e.label == label && e.label_shape == label_shape) return e.exec;
    return nullptr;
  }
  size_t size() const { return entries_.size(); }

  /// Captures `body` (which only queues work on cuda::DefaultStream()) into a graph kept for
  /// these buffers. Nothing runs: launch the result to do the step. On failure returns null
  /// with *why set, having ended the capture and given its blocks back. reserve: bytes of one
  /// block the graph's pool starts with (allocator.h: the step's transients one after another
  /// take it rather than a block each).
  cudaGraphExec_t Capture(const void* input, const void* label, const Shape<2>& label_shape,
                          const std::function<void()>& body, std::string* why, size_t reserve = 0) {
    auto& alloc = cuda::CachingAllocator::Get();
    const cudaStream_t s = cuda::DefaultStream();
    const int pool = alloc.BeginCapturePool(reserve);
    // Relaxed: the allocator may still call cudaMalloc for a block the cache lacks (it is not
    // stream work; the block is the graph's from then on).
    cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed);
    std::string err;
    if (e == cudaSuccess) {
      try {
        body();
      } catch (const std::exception& ex) {
        err = ex.what();
      }
      cudaGraph_t graph = nullptr;
      e = cudaStreamEndCapture(s, &graph);
      cudaGraphExec_t exec = nullptr;
      if (err.empty() && e == cudaSuccess) e = cudaGraphInstantiate(&exec, graph, 0);
      if (graph) cudaGraphDestroy(graph);
      if (err.empty() && e == cudaSuccess) {
        alloc.EndCapturePool();
        entries_.push_back({input, label, label_shape, exec, pool});
        return exec;
      }
    }
    if (err.empty()) err = std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
    cudaGetLastError();  // a failed capture is reported here, not by the next unrelated call
    alloc.EndCapturePool();
    alloc.ReleaseCapturePool(pool);  // nothing ran: no replay can be using these blocks
    *why = "capturing the step failed: " + err;
    return nullptr;
  }

  /// Destroys every graph once the device is idle (replays may have been launched from another
  /// thread's stream), then gives their blocks back to the cache.
  void Clear() {
    if (entries_.empty()) return;
    cudaDeviceSynchronize();  // a destructor path: errors are not thrown
    for (auto& e : entries_) {
      cudaGraphExecDestroy(e.exec);
      cuda::CachingAllocator::Get().ReleaseCapturePool(e.pool);
    }
    entries_.clear();
  }

 private:
  struct Entry {
    const void* input;
    const void* label;
    Shape<2> label_shape;
    cudaGraphExec_t exec;
    int pool;
  };
  std::vector<Entry> entries_;
};

}  // namespace umbra::nn
#endif
