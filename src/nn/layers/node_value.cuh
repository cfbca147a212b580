// A node's element as the GPU kernels of the layers read and write it: float nodes as they are,
// bfloat16 nodes (NetSpec::bf16_nodes) widened to float exactly on the way in and rounded to
// nearest on the way out, so a kernel computes in float whichever kind of node it serves.
// Device code of the layers' own .cu files (batch_norm_stats.cu, max_pool_gpu.cu).
#pragma once

#include <cuda_bf16.h>

namespace umbra::nn {

__device__ inline float Wide(float v) { return v; }
__device__ inline float Wide(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline void Put(float* p, float v) { *p = v; }
__device__ inline void Put(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

}  // namespace umbra::nn
