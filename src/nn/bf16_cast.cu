// float <-> bfloat16 kernels (layers/bf16_cast.h): one grid-stride pass each.
#include <cuda_bf16.h>

#include <algorithm>

#include "bf16_cast.h"
#include "umbra/tensor/cuda/check.h"
#include "umbra/tensor/cuda/fast_div.h"

namespace umbra::nn {
namespace {

__global__ void ToBF16(const float* __restrict__ src, __nv_bfloat16* __restrict__ dst, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}
__global__ void FromBF16(const __nv_bfloat16* __restrict__ src, float* __restrict__ dst, size_t n, bool add) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = add ? dst[i] + __bfloat162float(src[i]) : __bfloat162float(src[i]);
}
// float(src[i]) + bias[c], relu'd: c from i by two divisions fixed at launch (IndexDiv: a
// multiply-high each below 2^32 elements).
__global__ void FromBF16Bias(const __nv_bfloat16* __restrict__ src, const float* __restrict__ bias,
                             float* __restrict__ dst, size_t n, cuda::IndexDiv inner, cuda::IndexDiv channels,
                             bool relu) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    float v = __bfloat162float(src[i]);
    if (bias) {
      const index_t q = inner.Div(index_t(i));
      v += bias[q - channels.Div(q) * channels.d];
    }
    dst[i] = relu && !(v > 0.f) ? 0.f : v;  // op::relu's choice: NaN and -0 give +0
  }
}
unsigned Blocks(size_t n) { return unsigned(std::min<size_t>((n + 255) / 256, 65535 * 4)); }

}  // namespace

void CastToBF16(const float* src, uint16_t* dst, size_t n, void* stream) {
  if (n == 0) return;
  UMBRA_LAUNCH(Blocks(n), 256, 0, cuda::OrDefault(static_cast<cudaStream_t>(stream)), ToBF16)(src, reinterpret_cast<__nv_bfloat16*>(dst), n);
  UMBRA_CUDA_CHECK(cudaGetLastError());
}
void CastFromBF16(const uint16_t* src, float* dst, size_t n, void* stream, bool add) {
  if (n == 0) return;
  UMBRA_LAUNCH(Blocks(n), 256, 0, cuda::OrDefault(static_cast<cudaStream_t>(stream)), FromBF16)(reinterpret_cast<const __nv_bfloat16*>(src), dst, n, add);
  UMBRA_CUDA_CHECK(cudaGetLastError());
}

void CastFromBF16Bias(const uint16_t* src, const float* bias, float* dst, size_t n, size_t inner, size_t channels,
                      bool relu, void* stream) {
  if (n == 0) return;
  const index_t planes = index_t((n - 1) / inner);  // the largest dividend of the second division
  UMBRA_LAUNCH(Blocks(n), 256, 0, cuda::OrDefault(static_cast<cudaStream_t>(stream)), FromBF16Bias)(
      reinterpret_cast<const __nv_bfloat16*>(src), bias, dst, n, cuda::IndexDiv(index_t(inner), index_t(n - 1)),
      cuda::IndexDiv(index_t(channels), planes), relu);
  UMBRA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace umbra::nn
