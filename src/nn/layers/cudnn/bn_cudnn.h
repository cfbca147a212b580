// The GPU backend of batch_norm / batch_norm_no_ma: cuDNN's spatial batch normalisation (its
// persistent variant when training channels-last, as PyTorch). The layer's semantics map one to
// one: per-channel statistics over (N, H, W), the saved batch mean and 1/sqrt(var + eps) (which
// the layer keeps in mean_ and inv_std_ either way), moving averages with factor
// 1 - bn_momentum and the unbiased variance (cuDNN stores that one too), weight gradients
// accumulated (beta = 1), the input gradient written. No cuDNN include here; MakeCudnnBn returns
// null without cuDNN and the layer keeps its expressions.
#pragma once

#include <memory>

#include "umbra/base.h"

namespace umbra::nn {

class BnBackend {
 public:
  virtual ~BnBackend() = default;
  /// Batch statistics: y, save_mean, save_inv_std written; run_mean/run_var (may be null)
  /// updated as run = (1 - factor) run + factor batch.
  virtual void ForwardTrain(const float* x, float* y, const float* gamma, const float* beta, double factor,
                            float* run_mean, float* run_var, float* save_mean, float* save_inv_std) = 0;
  /// Given statistics (the moving ones at test time).
  virtual void ForwardInfer(const float* x, float* y, const float* gamma, const float* beta, const float* mean,
                            const float* var) = 0;
  /// After ForwardTrain: gx written, ggamma and gbeta accumulated.
  virtual void Backward(const float* x, const float* gy, float* gx, const float* gamma, float* ggamma, float* gbeta,
                        const float* save_mean, const float* save_inv_std) = 0;
};

/// x (n, c, h, w), float NCHW, held as (n, h, w, c) when nhwc; statistics per channel. Null
/// without cuDNN, and for shapes cuDNN's batch norm refuses (kCudnnBnMaxBatch, int sizes): the
/// layer keeps its expressions then.
inline constexpr index_t kCudnnBnMaxBatch = 65535;
/// With bf16, x, y and their gradients are bfloat16 (NetSpec::bf16_nodes); the statistics,
/// gamma and beta stay float; null where cuDNN refuses bf16 for the shape (tried once a process
/// for each: bf16_probe.h).
std::unique_ptr<BnBackend> MakeCudnnBn(index_t n, index_t c, index_t h, index_t w, double eps, bool nhwc = false,
                                       bool bf16 = false);

}  // namespace umbra::nn
