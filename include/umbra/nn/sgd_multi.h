// SGD with momentum over many weights in one pass: what Trainer runs on the gpu when every
// trained weight uses plain sgd without clipping. Per weight the rule is Updater's sgd, gradient
// scale and weight decay included, and the gradient is cleared in the same pass:
//   m = m * momentum - (g * grad_scale + w * wd) * lr;   w += m;   g = 0
// The per-weight Updater launches three kernels per weight (m, w, clearing g); here one launch
// serves up to kMaxSegments weights (ResNet-50 has 161), so the update costs one launch and one
// read-modify-write of w, g and m. The kernel is in src/nn/sgd_multi.cu (CUDA builds).
#pragma once

#include <cstdint>

namespace umbra::nn {

/// One weight's part of the fused update: its three arrays (n floats each, contiguous) and its
/// settings at this update (the scheduled learning rate, decay, momentum, gradient scale).
struct SgdSegment {
  float* w;
  float* g;
  float* m;
  int64_t n;
  float lr, wd, momentum, grad_scale;
};

/// Weights per launch: the segment table travels as a kernel parameter (CUDA 12.1+ allows
/// 32 KiB of them), so nothing is copied to the device first and the launch can be captured
/// in a CUDA graph. Longer lists take several launches.
inline constexpr int kSgdMaxSegments = 480;

/// Applies the update to `count` segments on `stream` (a cudaStream_t; null: the default one).
void SgdMultiTensorGPU(const SgdSegment* segments, int count, void* stream);

}  // namespace umbra::nn
