// float <-> bfloat16 conversion on the GPU for the layers' bf16 option (dtype=bf16: conv and
// fullc take bf16 copies of their operands into tensor-core products with fp32 accumulation,
// while weights, gradients and activations stay fp32, autocast-style). bf16 buffers are
// uint16_t here so that no CUDA header is needed; kernels in src/nn/bf16_cast.cu (CUDA builds).
// Napkin: a cast reads 4 and writes 2 bytes an element, a third of an fp32 copy's traffic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace umbra::nn {

/// dst[i] = bf16(src[i]) (round to nearest even), on `stream` (a cudaStream_t; null: default).
void CastToBF16(const float* src, uint16_t* dst, size_t n, void* stream);
/// dst[i] = float(src[i]), or with add dst[i] += float(src[i]) (a gradient accumulated).
void CastFromBF16(const uint16_t* src, float* dst, size_t n, void* stream, bool add = false);

}  // namespace umbra::nn
