// float <-> bfloat16 kernels (layers/bf16_cast.h): one grid-stride pass each.
#include <cuda_bf16.h>

#include <algorithm>

#include "bf16_cast.h"
#include "umbra/tensor/cuda/check.h"

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

}  // namespace umbra::nn
