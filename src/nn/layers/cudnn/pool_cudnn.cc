// cuDNN pooling backend (pool_cudnn.h).
#include "pool_cudnn.h"

#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
#include <algorithm>
#include <climits>
#include <string>

#include "bf16_probe.h"
#include "cudnn_util.h"

namespace umbra::nn {
namespace {

class CudnnPool : public PoolBackend {
 public:
  CudnnPool(bool max, index_t n, index_t c, index_t h, index_t w, index_t oh, index_t ow, index_t kh, index_t kw,
            index_t sh, index_t sw, index_t ph, index_t pw, bool nhwc, bool bf16) {
    try {
      UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
      UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_));
      UMBRA_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pool_));
      const cudnnTensorFormat_t fmt = nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
      const cudnnDataType_t dt = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;  // alpha, beta float either way
      UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, fmt, dt, int(n), int(c), int(h), int(w)));
      UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, fmt, dt, int(n), int(c), int(oh), int(ow)));
      // Max: the deterministic variant. With tied maxima cuDNN sends the gradient to one cell, as
      // the cpu's unpool does (the first maximum in row-major order). Which tied cell cuDNN picks
      // is not documented: cli.gpu_matches_cpu (LeNet, whose flat background ties) compares them.
      UMBRA_CUDNN_CHECK(cudnnSetPooling2dDescriptor(
          pool_, max ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
          CUDNN_PROPAGATE_NAN, int(kh), int(kw), int(ph), int(pw), int(sh), int(sw)));
      int dn, dc, dh, dw;
      UMBRA_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool_, x_, &dn, &dc, &dh, &dw));
      UMBRA_CHECK(dn == n && dc == c && dh == oh && dw == ow, "cuDNN pooling output (", dn, ",", dc, ",", dh, ",",
                  dw, ") differs from the layer's (", n, ",", c, ",", oh, ",", ow, ")");
    } catch (...) {  // no destructor after a throw
      Destroy();
      throw;
    }
  }
  ~CudnnPool() override { Destroy(); }
  void Forward(const float* x, float* y) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnPoolingForward(CudnnHandle(nullptr), pool_, &one, x_, x, &zero, y_, y));
  }
  void Backward(const float* x, const float* y, const float* gy, float* gx) override {
    const float one = 1, zero = 0;
    UMBRA_CUDNN_CHECK(cudnnPoolingBackward(CudnnHandle(nullptr), pool_, &one, y_, y, y_, gy, x_, x, &zero, x_, gx));
  }

 private:
  void Destroy() {
    if (x_) cudnnDestroyTensorDescriptor(x_);
    if (y_) cudnnDestroyTensorDescriptor(y_);
    if (pool_) cudnnDestroyPoolingDescriptor(pool_);
  }

  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnPoolingDescriptor_t pool_ = nullptr;
};

// bf16 values: forward and backward at the layer's shape, on zeros.
bool TakesBF16(bool max, index_t n, index_t c, index_t h, index_t w, index_t oh, index_t ow, index_t kh, index_t kw,
               index_t sh, index_t sw, index_t ph, index_t pw, bool nhwc) {
  const size_t in = ProbeAlign(size_t(n * c * h * w) * 2), out = ProbeAlign(size_t(n * c * oh * ow) * 2);
  auto s = [](index_t a, index_t b) { return std::to_string(a) + "x" + std::to_string(b); };
  const std::string key = std::string(max ? "max " : "avg ") + s(kh, kw) + " at stride " + s(sh, sw) + " pad " +
                          s(ph, pw) + ", " + std::to_string(n) + "x" + std::to_string(c) + "x" + s(h, w) +
                          (nhwc ? ", channels-last" : "");
  return CudnnTakesBF16("pooling", key, 2 * in + 2 * out, [&](char* b) {
    auto at = [&](size_t off) { return reinterpret_cast<float*>(b + off); };
    CudnnPool pool(max, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, nhwc, true);
    pool.Forward(at(0), at(in));
    pool.Backward(at(0), at(in), at(in + out), at(in + 2 * out));
  });
}

}  // namespace

std::unique_ptr<PoolBackend> MakeCudnnPool(bool max, index_t n, index_t c, index_t h, index_t w, index_t oh,
                                           index_t ow, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph,
                                           index_t pw, bool nhwc, bool bf16) {
  // cuDNN's tensor descriptors hold at most 2^31 - 1 elements, as for convolutions: a larger
  // input or output keeps the layer's own kernel or expression (before the bf16 probe, which
  // would allocate them).
  if (std::max(n * c * h * w, n * c * oh * ow) > index_t(INT_MAX)) return nullptr;
  if (bf16 && !TakesBF16(max, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, nhwc)) return nullptr;
  return std::make_unique<CudnnPool>(max, n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, nhwc, bf16);
}

}  // namespace umbra::nn

#else  // without cuDNN: the pooling layers keep their expressions

namespace umbra::nn {
std::unique_ptr<PoolBackend> MakeCudnnPool(bool, index_t, index_t, index_t, index_t, index_t, index_t, index_t,
                                           index_t, index_t, index_t, index_t, index_t, bool, bool) {
  return nullptr;
}
}  // namespace umbra::nn

#endif
