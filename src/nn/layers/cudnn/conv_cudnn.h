// The GPU convolution backend of the conv layer: cuDNN (forward, backward-data,
// backward-filter, bias), grouped convolutions included (cxxnet's cuDNN path could not do
// ngroup). Algorithms are chosen by measurement (cudnnFind*AlgorithmEx on the layer's own
// buffers) under a workspace cap, once per geometry for the whole process; each call then picks
// from what that search measured, by what is free of its pass's gap (PickAlgo). Workspaces come
// from that gap where they fit (pass_scratch.h), else from the caching allocator. The searches
// also time cuDNN's engine configurations (conv_engines.h) and umbra's own GEMMs (conv_gemm.h). The ConvBackend interface is conv_dnnl.h's; this header has no cuDNN include,
// so the layer template compiles without cuDNN and MakeCudnnConv returns null.
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <vector>

#include "conv_dnnl.h"

namespace umbra::nn {

/// One result of a cuDNN algorithm search as the choice weighs it: its measured time, its
/// workspace, and whether it may be used (it succeeded, within the cap, with allowed math).
struct AlgoTrial {
  float ms;
  size_t memory;
  bool usable;
};
/// A search's pick (the index into t; -1 when none is usable with a finite time of 0 or more):
/// of those results within `slack` of the fastest one's time, the one that adds the least memory
/// to the step, the faster on a tie. A workspace of up to `free` bytes (what is left of the
/// running pass's gap in the node arena, PassScratch) adds none; a larger one comes from the
/// caching allocator on top of the step's activations and adds all of it. So with no gap, the
/// least workspace; with one, the fastest that fits it. One search's timings of algorithms that
/// close apart are within its noise, so a few percent bound what the smaller one costs.
inline constexpr double kAlgoTimeSlack = 0.03;
inline int PickAlgo(const std::vector<AlgoTrial>& t, size_t free = 0, double slack = kAlgoTimeSlack) {
  auto ok = [](const AlgoTrial& a) { return a.usable && std::isfinite(a.ms) && a.ms >= 0; };
  auto adds = [free](const AlgoTrial& a) { return a.memory <= free ? size_t(0) : a.memory; };
  int fastest = -1;
  for (size_t i = 0; i < t.size(); ++i)
    if (ok(t[i]) && (fastest < 0 || t[i].ms < t[size_t(fastest)].ms)) fastest = int(i);
  if (fastest < 0) return -1;
  const double limit = double(t[size_t(fastest)].ms) * (1 + slack);
  int pick = fastest;
  for (size_t i = 0; i < t.size(); ++i) {
    const AlgoTrial &a = t[i], &p = t[size_t(pick)];
    if (ok(a) && a.ms <= limit && (adds(a) < adds(p) || (adds(a) == adds(p) && a.ms < p.ms))) pick = int(i);
  }
  return pick;
}

/// What a convolution's searches time: everything (cuDNN's legacy algorithms, the engine
/// configurations of its graph API, conv_engines.h, and in fp32 NCHW umbra's own GEMMs,
/// conv_gemm.h), the legacy algorithms and umbra's GEMMs alone (the searches before the graph
/// API was added), or the engine configurations alone.
enum class CudnnSearch { kAll, kLegacy, kEngines };

struct CudnnConvOptions {
  /// Largest workspace an algorithm may use, in MiB.
  int workspace_mib = 1024;
  /// Allow TF32 tensor-core math (PyTorch's default for convolutions).
  bool tf32 = true;
  /// Convolve bfloat16 copies of the operands (fp32 accumulation); inputs, outputs, weights and
  /// gradients stay fp32 at the interface (the layer's dtype=bf16, autocast-style). A training
  /// forward's weight copy is kept for the step's backward-data (the layer's weights at half
  /// their size, held through training).
  bool bf16 = false;
  /// With bf16: x, y and their gradients are the net's bf16 nodes (NetSpec::bf16_nodes), given
  /// as float pointers to bf16 values: convolved as they are, no casts. Forward adds the bias
  /// and relu in place in bf16; the layer masks a fused relu's gradient itself.
  bool bf16_nodes = false;
  /// Channels-last activations: x (n, h, w, c) and y (n, oh, ow, oc) in memory (the net's
  /// channels_last). Weights and their gradients stay (oc, c/g, kh, kw) at the interface; the
  /// backend moves them to (oc, kh, kw, c/g) scratch per call for cuDNN's NHWC kernels (with
  /// bf16, moved as they are cast, and kept as above).
  bool nhwc = false;
  CudnnSearch search = CudnnSearch::kAll;
};

/// Whether this build has cuDNN (MakeCudnnConv and the other backends return null otherwise).
bool CudnnBuilt();

/// x (n, c, h, w) -> y (n, oc, oh, ow), float, NCHW; weights (oc, c/groups * kh * kw) as wmat.
/// Null when umbra was built without cuDNN. Runs on `stream` (a cudaStream_t), which must be
/// null or the thread's default stream (its scratch is freed in that stream's order).
std::unique_ptr<ConvBackend> MakeCudnnConv(index_t n, index_t c, index_t h, index_t w, index_t oc,
                                           index_t oh, index_t ow, index_t groups, index_t kh,
                                           index_t kw, index_t sh, index_t sw, index_t ph,
                                           index_t pw, bool bias, const CudnnConvOptions& opt,
                                           void* stream);

}  // namespace umbra::nn
