// A CPU convolution backend for the conv layer: oneDNN's direct convolution (forward,
// backward-data, backward-weights), built once per geometry by MakeDnnlConv (conv_dnnl.cc).
// PyTorch's CPU convolutions are oneDNN's too; against umbra's im2col + GEMM path the direct
// kernels skip the column buffer's memory traffic (im2col and col2im were over half of a LeNet
// step). User memory stays in umbra's layouts (NCHW data; OIHW / GOIHW weights, which wmat
// already is); oneDNN reorders internally where its kernels want blocked layouts. This header
// has no oneDNN include, so the layer template compiles under nvcc too.
#pragma once

#include <memory>
#include <string>

#include "umbra/base.h"

namespace umbra::nn {

class ConvBackend {
 public:
  virtual ~ConvBackend() = default;
  /// y = conv(x, w) + b (b may be null), then max(0, y) where relu; relu only where FusesRelu().
  /// train: a backward follows, for which the backend may keep what it made of w (cuDNN's bf16
  /// copy); the next backward (Backward, or BackwardData) then uses it whatever w it is given,
  /// and drops it.
  virtual void Forward(const float* x, const float* w, const float* b, float* y, bool relu, bool train) = 0;
  /// Whether Forward applies a relu itself, in a pass over y that it makes anyway (cuDNN's bf16
  /// path, converting its bf16 output); otherwise the layer adds bias and relu in one pass.
  virtual bool FusesRelu() const { return false; }
  /// gx = the input gradient from gy (written).
  virtual void BackwardData(const float* gy, const float* w, float* gx) = 0;
  /// gw, gb = weight and bias gradients (gb may be null): written, or added to when
  /// AccumulatesWeights() (then the layer passes its gradient buffers themselves).
  virtual void BackwardWeights(const float* x, const float* gy, float* gw, float* gb) = 0;
  virtual bool AccumulatesWeights() const { return false; }
  /// What the backend ran, for the layer's Implementation(): its name, and where it chooses
  /// algorithms, the last call's choice per pass.
  virtual std::string Describe() const = 0;
  /// A step's whole backward: BackwardWeights, then BackwardData where gx is not null. A
  /// backend that converts gy before convolving (cuDNN's bf16) converts it once for both.
  virtual void Backward(const float* x, const float* gy, const float* w, float* gw, float* gb, float* gx) {
    BackwardWeights(x, gy, gw, gb);
    if (gx) BackwardData(gy, w, gx);
  }
};

/// x (n, c, h, w) -> y (n, oc, oh, ow) with `groups` groups, kernel kh x kw, stride, padding.
/// Returns null when umbra was built without oneDNN.
std::unique_ptr<ConvBackend> MakeDnnlConv(index_t n, index_t c, index_t h, index_t w, index_t oc,
                                          index_t oh, index_t ow, index_t groups, index_t kh,
                                          index_t kw, index_t sh, index_t sw, index_t ph,
                                          index_t pw, bool bias);

}  // namespace umbra::nn
