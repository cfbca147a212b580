// cuDNN batch normalisation backend (bn_cudnn.h). cuDNN 9 lists these calls as deprecated in
// favour of its graph API (warned only with CUDNN_WARN_DEPRECATED); they remain supported.
#include "bn_cudnn.h"

#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
#include <climits>
#include <sstream>
#include <string>

#include "bf16_probe.h"
#include "cudnn_util.h"

namespace umbra::nn {
namespace {

class CudnnBn : public BnBackend {
 public:
  // Channels-last training takes cuDNN's persistent spatial mode, as PyTorch does for its
  // channels-last batch norm (the mode its NHWC kernels are written for; "may be faster,
  // limits the range of values": an overflow ends in Inf/NaN, which the trainer's loss check
  // names). Inference keeps the plain spatial mode, as PyTorch does.
  CudnnBn(index_t n, index_t c, index_t h, index_t w, double eps, bool nhwc, bool bf16)
      : eps_(eps), train_mode_(nhwc ? CUDNN_BATCHNORM_SPATIAL_PERSISTENT : CUDNN_BATCHNORM_SPATIAL) {
    try {
      UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
      UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p_));
      // bf16 values: the derived descriptor of the statistics and weights is float all the same.
      UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                                   bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT, int(n), int(c),
                                                   int(h), int(w)));
      UMBRA_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(p_, x_, CUDNN_BATCHNORM_SPATIAL));
    } catch (...) {  // no destructor after a throw
      Destroy();
      throw;
    }
  }
  ~CudnnBn() override { Destroy(); }
  void ForwardTrain(const float* x, float* y, const float* gamma, const float* beta, double factor, float* run_mean,
                    float* run_var, float* save_mean, float* save_inv_std) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(CudnnHandle(nullptr), train_mode_, &one,
                                                             &zero, x_, x, x_, y, p_, gamma, beta, factor, run_mean,
                                                             run_var, eps_, save_mean, save_inv_std));
  }
  void ForwardInfer(const float* x, float* y, const float* gamma, const float* beta, const float* mean,
                    const float* var) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(CudnnHandle(nullptr), CUDNN_BATCHNORM_SPATIAL, &one,
                                                              &zero, x_, x, x_, y, p_, gamma, beta, mean, var, eps_));
  }
  void Backward(const float* x, const float* gy, float* gx, const float* gamma, float* ggamma, float* gbeta,
                const float* save_mean, const float* save_inv_std) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnBatchNormalizationBackward(CudnnHandle(nullptr), train_mode_, &one, &zero,
                                                      &one, &one, x_, x, x_, gy, x_, gx, p_, gamma, ggamma, gbeta,
                                                      eps_, save_mean, save_inv_std));
  }

 private:
  void Destroy() {
    if (x_) cudnnDestroyTensorDescriptor(x_);
    if (p_) cudnnDestroyTensorDescriptor(p_);
  }

  double eps_;
  cudnnBatchNormMode_t train_mode_;  // forward training and backward (the latter needs the saved statistics)
  cudnnTensorDescriptor_t x_ = nullptr, p_ = nullptr;
};

// bf16 values: every call the layer may make, at its shape (the batch too: cuDNN's choice of
// kernel may depend on it), with and without running statistics (batch_norm_no_ma, test-mode
// passes), on zeros.
bool TakesBF16(index_t n, index_t c, index_t h, index_t w, double eps, bool nhwc) {
  const size_t v = ProbeAlign(size_t(n * c * h * w) * 2), p = ProbeAlign(size_t(c) * sizeof(float));
  std::ostringstream key;
  key << n << "x" << c << "x" << h << "x" << w << (nhwc ? " channels-last" : "") << ", eps " << eps;
  return CudnnTakesBF16("batch norm", key.str(), 4 * v + 8 * p, [&](char* b) {
    auto at = [&](size_t off) { return reinterpret_cast<float*>(b + off); };
    float *x = at(0), *y = at(v), *gy = at(2 * v), *gx = at(3 * v);
    auto vec = [&](int i) { return at(4 * v + size_t(i) * p); };  // gamma, beta, the statistics, gradients
    CudnnBn bn(n, c, h, w, eps, nhwc, true);
    bn.ForwardTrain(x, y, vec(0), vec(1), 0.1, vec(2), vec(3), vec(4), vec(5));
    bn.ForwardTrain(x, y, vec(0), vec(1), 0.0, nullptr, nullptr, vec(4), vec(5));
    bn.Backward(x, gy, gx, vec(0), vec(6), vec(7), vec(4), vec(5));
    bn.ForwardInfer(x, y, vec(0), vec(1), vec(2), vec(3));
  });
}

}  // namespace

std::unique_ptr<BnBackend> MakeCudnnBn(index_t n, index_t c, index_t h, index_t w, double eps, bool nhwc, bool bf16) {
  // cuDNN's inference call fails from a batch of 65536 (its training call from about 880k; one
  // limit for both, since a layer runs both); descriptors take int sizes. PyTorch draws the same
  // lines before it calls cuDNN.
  if (n > kCudnnBnMaxBatch || n * c * h * w > index_t(INT_MAX)) return nullptr;
  if (bf16 && !TakesBF16(n, c, h, w, eps, nhwc)) return nullptr;
  return std::make_unique<CudnnBn>(n, c, h, w, eps, nhwc, bf16);
}

}  // namespace umbra::nn

#else  // without cuDNN: batch_norm keeps its expressions

namespace umbra::nn {
std::unique_ptr<BnBackend> MakeCudnnBn(index_t, index_t, index_t, index_t, double, bool, bool) { return nullptr; }
}  // namespace umbra::nn

#endif
