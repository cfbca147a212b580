// A node's element as the GPU kernels of the layers read and write it: float nodes as they are,
// bfloat16 nodes (NetSpec::bf16_nodes) widened to float exactly on the way in and rounded to
// nearest on the way out, so a kernel computes in float whichever kind of node it serves.
// Device code of the layers' own .cu files (batch_norm_stats.cu, max_pool_gpu.cu, bf16_cast.cu).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace umbra::nn {

__device__ inline float Wide(float v) { return v; }
__device__ inline float Wide(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline void Put(float* p, float v) { *p = v; }
__device__ inline void Put(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// Four neighbouring elements in one access (16 bytes of float, 8 of bfloat16): p must be aligned
// to the four (the caller checks, see IsPackAligned).
struct alignas(8) Bf16x4 {
  __nv_bfloat16 v[4];
};
__device__ inline void Load4(const float* p, float (&v)[4]) {
  const float4 w = *reinterpret_cast<const float4*>(p);
  v[0] = w.x, v[1] = w.y, v[2] = w.z, v[3] = w.w;
}
__device__ inline void Load4(const __nv_bfloat16* p, float (&v)[4]) {
  const Bf16x4 w = *reinterpret_cast<const Bf16x4*>(p);
  for (int e = 0; e < 4; ++e) v[e] = Wide(w.v[e]);
}
__device__ inline void Store4(float* p, const float (&v)[4]) {
  *reinterpret_cast<float4*>(p) = float4{v[0], v[1], v[2], v[3]};
}
__device__ inline void Store4(__nv_bfloat16* p, const float (&v)[4]) {
  Bf16x4 w;
  for (int e = 0; e < 4; ++e) w.v[e] = __float2bfloat16_rn(v[e]);
  *reinterpret_cast<Bf16x4*>(p) = w;
}
// Whether p (null: no tensor) may be read or written four elements at a time.
template <typename T>
inline bool IsPackAligned(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0;
}

}  // namespace umbra::nn
