// The GPU pooling backend of the pooling layers: cuDNN's max and average pooling (forward and
// backward) where it computes what the layer means. umbra pools in cxxnet's ceil mode and cuDNN
// in floor mode, so the layer asks for cuDNN only when both give the same output size; avg
// divides by the whole window, padded cells included (cuDNN's COUNT_INCLUDE_PADDING); padded
// cells never win a max. Without cuDNN MakeCudnnPool returns null and the layer keeps its
// pool/unpool expressions. No cuDNN include here, so the layer template compiles anywhere.
#pragma once

#include <memory>

#include "umbra/base.h"

namespace umbra::nn {

class PoolBackend {
 public:
  virtual ~PoolBackend() = default;
  /// y = pool(x) (written).
  virtual void Forward(const float* x, float* y) = 0;
  /// gx (written) from the forward's x and y and the output gradient gy.
  virtual void Backward(const float* x, const float* y, const float* gy, float* gx) = 0;
};

/// x (n, c, h, w) pooled by kh x kw windows at stride sh x sw with padding ph x pw into
/// (n, c, oh, ow), float, NCHW; `max` or average. Null without cuDNN.
/// x (n, c, h, w) -> y (n, c, oh, ow), held as (n, h, w, c) and (n, oh, ow, c) when nhwc; with
/// bf16 all four pointers hold bfloat16 values (NetSpec::bf16_nodes), and null where cuDNN
/// refuses to pool bf16 so (tried once a process for each geometry: bf16_probe.h).
std::unique_ptr<PoolBackend> MakeCudnnPool(bool max, index_t n, index_t c, index_t h, index_t w, index_t oh,
                                           index_t ow, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph,
                                           index_t pw, bool nhwc = false, bool bf16 = false);

}  // namespace umbra::nn
