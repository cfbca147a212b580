// cuDNN activation and softmax backends (act_cudnn.h).
#include "act_cudnn.h"

#include <climits>

#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
#include <string>

#include "bf16_probe.h"
#include "cudnn_util.h"

namespace umbra::nn {
namespace {

// One descriptor for a tensor seen as (n, c, 1, 1), float (or bf16) NCHW: a flat buffer (n = 1)
// or rows.
class FlatDesc {
 public:
  FlatDesc(index_t n, index_t c, bool bf16 = false) {
    UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d_));
    const cudnnDataType_t t = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    const cudnnStatus_t st = cudnnSetTensor4dDescriptor(d_, CUDNN_TENSOR_NCHW, t, int(n), int(c), 1, 1);
    if (st != CUDNN_STATUS_SUCCESS) cudnnDestroyTensorDescriptor(d_);  // no destructor after a throw
    UMBRA_CUDNN_CHECK(st);
  }
  ~FlatDesc() { cudnnDestroyTensorDescriptor(d_); }
  FlatDesc(const FlatDesc&) = delete;
  FlatDesc& operator=(const FlatDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return d_; }

 private:
  cudnnTensorDescriptor_t d_ = nullptr;
};

cudnnActivationMode_t Mode(CudnnActKind kind) {
  switch (kind) {
    case CudnnActKind::kRelu: return CUDNN_ACTIVATION_RELU;
    case CudnnActKind::kSigmoid: return CUDNN_ACTIVATION_SIGMOID;
    case CudnnActKind::kTanh: return CUDNN_ACTIVATION_TANH;
  }
  return CUDNN_ACTIVATION_RELU;
}

class CudnnAct : public ActBackend {
 public:
  CudnnAct(CudnnActKind kind, index_t size, bool bf16) : desc_(1, size, bf16) {
    UMBRA_CUDNN_CHECK(cudnnCreateActivationDescriptor(&act_));
    const cudnnStatus_t st = cudnnSetActivationDescriptor(act_, Mode(kind), CUDNN_PROPAGATE_NAN, 0.0);
    if (st != CUDNN_STATUS_SUCCESS) cudnnDestroyActivationDescriptor(act_);  // no destructor after a throw
    UMBRA_CUDNN_CHECK(st);
  }
  ~CudnnAct() override { cudnnDestroyActivationDescriptor(act_); }
  void Forward(const float* x, float* y) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnActivationForward(CudnnHandle(nullptr), act_, &one, desc_.get(), x, &zero, desc_.get(), y));
  }
  // relu, sigmoid and tanh gradients follow from y alone (y > 0, y (1 - y), 1 - y^2), so y
  // stands in for the input, which an in-place layer no longer has.
  void Backward(const float* y, const float* gy, float* gx) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnActivationBackward(CudnnHandle(nullptr), act_, &one, desc_.get(), y, desc_.get(), gy,
                                              desc_.get(), y, &zero, desc_.get(), gx));
  }

 private:
  FlatDesc desc_;
  cudnnActivationDescriptor_t act_ = nullptr;
};

class CudnnSoftmax : public SoftmaxBackend {
 public:
  CudnnSoftmax(index_t rows, index_t classes) : desc_(rows, classes) {}
  void Forward(const float* x, float* p) override {
    const float one = 1, zero = 0;
    // ACCURATE subtracts each row's maximum first, as the expression kernel does.
    UMBRA_CUDNN_CHECK(cudnnSoftmaxForward(CudnnHandle(nullptr), CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                          &one, desc_.get(), x, &zero, desc_.get(), p));
  }

 private:
  FlatDesc desc_;
};

// bf16 values: forward and backward in place at the layer's size (as the layer runs them), on
// zeros.
bool TakesBF16(CudnnActKind kind, index_t size) {
  const size_t v = ProbeAlign(size_t(size) * 2);
  const char* name[] = {"relu", "sigmoid", "tanh"};
  return CudnnTakesBF16("activation", std::string(name[int(kind)]) + " of " + std::to_string(size), 2 * v,
                        [&](char* b) {
                          float *x = reinterpret_cast<float*>(b), *g = reinterpret_cast<float*>(b + v);
                          CudnnAct act(kind, size, true);
                          act.Forward(x, x);
                          act.Backward(x, g, g);
                        });
}

}  // namespace

std::unique_ptr<ActBackend> MakeCudnnAct(CudnnActKind kind, index_t size, bool bf16) {
  if (size <= 0 || size > INT_MAX) return nullptr;
  if (bf16 && !TakesBF16(kind, size)) return nullptr;
  return std::make_unique<CudnnAct>(kind, size, bf16);
}

std::unique_ptr<SoftmaxBackend> MakeCudnnSoftmax(index_t rows, index_t classes) {
  if (rows <= 0 || classes <= 0 || rows > INT_MAX || classes > INT_MAX || rows * classes > INT_MAX) return nullptr;
  return std::make_unique<CudnnSoftmax>(rows, classes);
}

}  // namespace umbra::nn

#else  // without cuDNN: the layers keep their expressions

namespace umbra::nn {
std::unique_ptr<ActBackend> MakeCudnnAct(CudnnActKind, index_t, bool) { return nullptr; }
std::unique_ptr<SoftmaxBackend> MakeCudnnSoftmax(index_t, index_t) { return nullptr; }
}  // namespace umbra::nn

#endif
