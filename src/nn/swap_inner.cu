// SwapInnerAxesGPU (layers/swap_inner.h): one swapaxis expression.
#include "swap_inner.h"

#include "umbra/tensor.h"

namespace umbra::nn {

void SwapInnerAxesGPU(const float* src, float* dst, index_t outer, index_t a, index_t b, void* stream, bool add) {
  // A Stream<gpu> that only names the caller's CUDA stream: the expression needs no cuBLAS handle.
  Stream<gpu> on;
  on.stream_ = cuda::OrDefault(static_cast<cudaStream_t>(stream));  // null: the thread's stream, not stream 0
  const Tensor<gpu, 3, float> s(const_cast<float*>(src), Shape3(outer, a, b), &on);
  Tensor<gpu, 3, float> d(dst, Shape3(outer, b, a), &on);
  if (add)
    d += swapaxis<2, 1>(s);
  else
    d = swapaxis<2, 1>(s);
}

}  // namespace umbra::nn
