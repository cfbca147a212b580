// cuDNN's engine configurations for one convolution pass, through its graph (backend) API: more
// candidates for the searches of conv_cudnn.cc, timed on the same buffers and picked by the same
// rule (PickAlgo) as cuDNN's legacy algorithms and umbra's own GEMMs.
// Why: the legacy cudnnFind*AlgorithmEx searches reach only the engines its algorithm enums map
// to. PyTorch 2.x builds a graph per convolution and, with cudnn.benchmark, times the engine
// configurations cuDNN's heuristics list (with their knobs), which can offer kernels no legacy
// algorithm names. On the H200 (2026-12-04) umbra's AlexNet convolutions took 7.06 ms of a 9.69
// ms step against PyTorch's 7.26 ms for all of it: where the gap is, this lets the search see
// what PyTorch's sees. Not here: the legacy search, the pick, the workspaces (conv_cudnn.cc).
// Include only where UMBRA_USE_CUDNN is set (it includes cudnn.h).
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conv_gemm.h"  // ConvGemmGeom

namespace umbra::nn {

/// A convolution as the graph describes it: the geometry g as umbra's GEMMs take it (x (n, c, h,
/// w), filter (oc, c/groups, kh, kw), y (n, oc, oh, ow)), all of type `type` (float or bfloat16,
/// fp32 compute), packed NCHW (KCRS) or, with nhwc, packed (n, h, w, c) and (oc, kh, kw, c/groups).
struct EngineConv {
  ConvGemmGeom g;
  cudnnDataType_t type;
  bool nhwc;
};

/// The three passes; each names its operands x, w and y: forward y = conv(x, w), backward-data
/// x = conv^T(y, w) (y: the output gradient, x: the input gradient), backward-filter w = the
/// weight gradient from x and y (the output gradient).
enum class ConvPass { kForward, kData, kFilter };

/// A variant pack (the operands' addresses and the workspace) kept for the next run with the
/// same ones: a layer's pass meets the same nodes step after step, and making a pack is host
/// work per call (LeNet's whole step is 0.46 ms on the H200). One per layer and pass.
class EnginePack {
 public:
  EnginePack() = default;
  EnginePack(const EnginePack&) = delete;
  EnginePack& operator=(const EnginePack&) = delete;
  ~EnginePack();

 private:
  friend class EnginePlan;
  cudnnBackendDescriptor_t desc_ = nullptr;
  const void* ptrs_[4] = {};  // x, w, y, workspace
};

/// One finalized execution plan (an engine configuration bound to the pass's graph, which it
/// keeps alive). Shared by every layer of its geometry on its device; runs on the handle's
/// stream. cuDNN does not promise that every engine's plan may run from two threads at once
/// (PyTorch keeps its plans per thread): umbra runs a device's layers from one thread (a GPU
/// per thread where a process drives several), as it shares the device's one cuDNN handle.
class EnginePlan {
 public:
  struct Parts;  // the backend descriptors it owns
  EnginePlan(std::shared_ptr<Parts> parts, size_t workspace, int64_t engine, bool tensor_cores);
  ~EnginePlan();
  /// Runs the pass: out = alpha * result + beta * out, with the alpha and beta the plan was made
  /// with; `ws` at least workspace() bytes (may be null when that is 0). Pointers 16-byte
  /// aligned (the alignment the graph declares): an error otherwise, not a fault. With `keep`,
  /// its pack is used where the four addresses are its own, and replaced otherwise.
  void Run(cudnnHandle_t h, const void* x, const void* w, const void* y, void* ws, EnginePack* keep = nullptr) const;
  size_t workspace() const { return workspace_; }
  /// cuDNN's global index of the engine, and whether its numerical notes say tensor cores.
  int64_t engine() const { return engine_; }
  bool tensor_cores() const { return tensor_cores_; }

 private:
  std::shared_ptr<Parts> parts_;
  size_t workspace_;
  int64_t engine_;
  bool tensor_cores_;
};

/// What a search may take: fp32 operands on tensor cores (TF32) only with tf32; never an engine
/// that converts its inputs down (to half) or reduces in reduced precision, none that needs run-
/// time compilation (NVRTC: seconds a configuration, and a dependency the legacy algorithms lack),
/// none whose workspace exceeds max_workspace. At most max_plans, in the heuristics' order (mode
/// A, then the fallback list), duplicates dropped, and none finalized once max_seconds have
/// passed since the graph was made (those made are kept): a plan's finalization may load its
/// kernels, and ResNet-50 has 23 geometries of three passes, searched in the first step of
/// every process (the tests', the benchmarks' variants), on a device lent by the quarter hour.
struct EngineFilter {
  bool tf32 = true;
  size_t max_workspace = 0;
  int max_plans = 16;
  double max_seconds = 2.0;
};

/// The plans cuDNN's heuristics offer for the pass that it can finalize under `filter`, alpha 1
/// and the given beta (1: the pass adds into its output). Never throws: an empty list where the
/// graph API refuses the whole pass (an older cuDNN, a shape it cannot express), and a
/// configuration cuDNN refuses to finalize is left out (cuDNN's debug log names it).
std::vector<std::shared_ptr<const EnginePlan>> EnginePlans(cudnnHandle_t h, const EngineConv& conv, ConvPass pass,
                                                           float beta, const EngineFilter& filter);

}  // namespace umbra::nn
