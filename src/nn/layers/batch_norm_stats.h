// The batch-norm statistics kernels of the GPU expression path (batch_norm-inl.h, algo=expr):
// what an expression cannot do in one pass. Forward: a channel's sum and sum of squares in one
// read of x, turned into mean, 1/std, the affine scale and shift, and the moving averages by the
// last block to finish the channel's sums, in the same launch. Backward: sum(g) and
// sum(g * xhat) in one read of x and the output's gradient (g masked by a fused relu, its
// decision recomputed from x), then the beta/gamma gradients and three per-channel coefficients
// of the input gradient, likewise. The elementwise passes
// (y = x * scale + shift, gx = (g - ka - (x - mean) * kc) * k1) stay expressions in the layer.
// x and gy are float or, for bf16 nodes (NetSpec::bf16_nodes), bfloat16 values, widened as read.
// Kernels in batch_norm_stats.cu (CUDA builds); the CPU path keeps its expressions.
#pragma once

#include <cstdint>

#include "umbra/base.h"

namespace umbra::nn {

/// x * scale, rounded on its own (an expression functor): the normalised value is
/// BnScale(x, scale) + shift, never contracted into an FMA. The forward's normalising pass, the
/// input-gradient pass and the backward sums each decide a fused relu's mask (> 0) from it, so
/// they must compute it bit for bit alike, whichever way nvcc would otherwise fuse each.
struct BnScale {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType scale) {
#ifdef __CUDA_ARCH__
    if constexpr (sizeof(DType) == 4)
      return __fmul_rn(x, scale);
    else
      return x * scale;
#else
    return x * scale;  // host: C++20 without GNU extensions, so no contraction
#endif
  }
};

/// x as (outer, C, inner): channel c holds outer * inner values, x[(o * C + c) * inner + i].
/// (N, C, H, W) is (N, C, H*W); channels-last (N, H, W, C) and vectors (N, C) are (rows, C, 1).
struct BnDims {
  int64_t outer, channels, inner;
};

/// Whether the sums may read four neighbouring values at a time: the strided ones four of a run,
/// where a run's length (inner) is a multiple of 4; the rows' four channels of a row, where C
/// is; in both the tensors aligned to four elements (default on; off for a benchmark's or a
/// test's comparison). Not thread-safe: set it outside any step.
bool& StatsPacked();
/// Whether the last launch of the sums read packs (a test hook).
bool& LastStatsPacked();

/// The kernels' scratch for dims d, in two parts. Partial sums (BnPartialDoubles: two per block),
/// each written before it is read in every launch, so they may come from any bytes free for the
/// call: the running pass's gap in the node arena (pass_buffer.h), which costs no memory beyond
/// the nodes'. Counts (BnCountWords: one per column of blocks, 1 per channel for NCHW, per 32
/// channels for rows of channels), which must be 0 when a launch starts; each launch leaves
/// them 0 again, so they are cleared once per allocation and kept (by the layer, sized outside
/// any step: a step then allocates nothing that has to be cleared, and can be captured in a
/// graph). Kept partials were 1 MiB a wide channels-last layer, 47 MiB over a channels-last
/// ResNet-50's 53 batch norms, where the counts are 100 KiB.
struct BnScratch {
  double* partials;
  unsigned* counts;
};
int64_t BnPartialDoubles(const BnDims& d);
int64_t BnCountWords(const BnDims& d);
/// Zeroes newly allocated counts for dims d, on `stream`.
void BnCountsClear(const BnDims& d, unsigned* counts, void* stream);
/// The same, done before it returns (set-up outside any step: no stream order to rely on).
void BnCountsPrepare(const BnDims& d, unsigned* counts);

/// Per-channel outputs of a training forward. With m = outer * inner, mean = sum(x) / m,
/// var = sum(x^2) / m - mean^2 (summed in double), inv_std = 1 / sqrt(var + eps),
/// scale = gamma * inv_std, shift = beta - mean * scale; moving_mean/moving_var (null: skipped)
/// become mom * moving + (1 - mom) * batch, the variance unbiased (m / (m - 1)). m >= 2.
/// x holds floats, or with `bf16` bfloat16 values (NetSpec::bf16_nodes); the rest is float.
struct BnForwardArgs {
  const void* x;
  bool bf16;
  const float *gamma, *beta;
  float eps, momentum;
  float *moving_mean, *moving_var;
  float *mean, *inv_std, *scale, *shift;
};
void BnForwardStatsGPU(const BnDims& d, const BnForwardArgs& a, const BnScratch& scratch, void* stream);

/// Per-channel work of a training backward, from the forward's mean, inv_std, scale and shift.
/// g = gy, or with `relu` gy where x * scale + shift > 0 (the forward's fused relu), where
/// x * scale + shift + addend > 0 with an `addend` (a sum fused in, Layer::FuseAdd), or where
/// y > 0 with `y` (the output, that sum's value); with `g_out` (gy itself) g is also written
/// there, in place, in the same read: the masked gradient the sum's other input takes;
/// xhat = (x - mean) * inv_std. ggamma += sum(g * xhat), gbeta += sum(g); and the input
/// gradient gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)) becomes
/// (g - ka - (x - mean) * kc) * k1 with k1 = gamma * inv_std, ka = mean(g),
/// kc = mean(g * xhat) * inv_std (x - mean rather than a folded x * k + b: no cancellation
/// when a channel's mean is large against its spread). x and gy hold floats, or with `bf16`
/// bfloat16 values.
struct BnBackwardArgs {
  const void *x, *gy;
  bool bf16;
  const float *mean, *inv_std, *scale, *shift, *gamma;
  bool relu;
  float *ggamma, *gbeta;
  float *k1, *ka, *kc;
  const void* addend = nullptr;  // x's dtype; null: no sum fused
  const void* y = nullptr;       // the output: the relu's mask from it (instead of from x and addend)
  void* g_out = nullptr;         // gy, to take the masked g
};
void BnBackwardSumsGPU(const BnDims& d, const BnBackwardArgs& a, const BnScratch& scratch, void* stream);

/// acc[c] += the sum of channel c's values of x, bfloat16 in either layout of BnDims, summed in
/// double in the same fixed order, added with one rounding: a bf16-node convolution's bias
/// gradient (cudnn/conv_cudnn.cc), which cuDNN's bias reduction would take only from an fp32
/// copy of the whole output gradient. scratch: as for the sums above, its counts cleared.
void ChannelSumsBF16GPU(const BnDims& d, const uint16_t* x, float* acc, const BnScratch& scratch, void* stream);

}  // namespace umbra::nn
