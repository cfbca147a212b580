// The GPU backends of the activation layers (relu, sigmoid, tanh) and of the softmax loss layer's
// forward: cuDNN's activation and instance softmax. Both compute what the expressions compute:
// relu keeps a NaN as op::relu does (CUDNN_PROPAGATE_NAN); the
// activation gradients read only the forward output, so they stay correct in place (the layer's
// input buffer is its output then). One difference is allowed: where relu's output is 0 and the
// incoming gradient is NaN or infinite, the expressions give NaN (gy * 0) and cuDNN may give 0.
// cuDNN's elu gradient reads the input, so elu, like the activations cuDNN lacks, keeps its
// expressions. No cuDNN include here: without cuDNN the factories return null and the layers
// keep their expressions.
#pragma once

#include <memory>

#include "umbra/base.h"

namespace umbra::nn {

enum class CudnnActKind { kRelu, kSigmoid, kTanh };

class ActBackend {
 public:
  virtual ~ActBackend() = default;
  /// y = act(x) (written; y may be x).
  virtual void Forward(const float* x, float* y) = 0;
  /// gx = gy * act'(.) from the forward output y (written; gx may be gy).
  virtual void Backward(const float* y, const float* gy, float* gx) = 0;
};

/// `size` floats, dense. Null without cuDNN or when size exceeds cuDNN's int dimensions.
/// With bf16, x, y and their gradients are bfloat16 (NetSpec::bf16_nodes); null where cuDNN
/// refuses bf16 activations (tried once a process: bf16_probe.h).
std::unique_ptr<ActBackend> MakeCudnnAct(CudnnActKind kind, index_t size, bool bf16 = false);

class SoftmaxBackend {
 public:
  virtual ~SoftmaxBackend() = default;
  /// p (rows, classes) = softmax of each row of x, dense (written).
  virtual void Forward(const float* x, float* p) = 0;
};

/// Null without cuDNN or when a dimension exceeds cuDNN's int.
std::unique_ptr<SoftmaxBackend> MakeCudnnSoftmax(index_t rows, index_t classes);

}  // namespace umbra::nn
