// Shared by the loss layers (softmax, l2_loss, lp_loss, multi_logistic): the per-sample losses
// stay on the device after Forward and Loss() brings their mean to the host only when asked.
// Not here: the losses themselves (softmax-inl.h, loss-inl.h).
#pragma once

#include "umbra/tensor.h"

namespace umbra::nn {

/// Copies per-sample losses (N) to the host and returns their mean (waits for the device).
template <typename xpu, typename DType>
inline double MeanOnHost(const Tensor<xpu, 1, DType>& per_sample) {
  const index_t n = per_sample.shape_[0];
  if (n == 0 || per_sample.dptr_ == nullptr) return 0;
  TensorContainer<cpu, 1, DType> host(Shape1(n));
  Copy(host.view(), per_sample);
  if constexpr (!xpu::kDevCPU) {
#if UMBRA_CUDA_KERNELS
    UMBRA_CUDA_CHECK(cudaStreamSynchronize(Stream<gpu>::GetStream(per_sample.stream_)));
#endif
  }
  double s = 0;
  for (index_t i = 0; i < n; ++i) s += double(host.dptr_[i]);
  return s / double(n);
}

}  // namespace umbra::nn
