// float <-> bfloat16 conversion on the GPU for the layers' bf16 option (dtype=bf16: conv and
// fullc take bf16 copies of their operands into tensor-core products with fp32 accumulation,
// while weights, gradients and activations stay fp32, autocast-style). bf16 buffers are
// uint16_t here so that no CUDA header is needed; kernels in src/nn/bf16_cast.cu (CUDA builds).
// Napkin: a cast reads 4 and writes 2 bytes an element, a third of an fp32 copy's traffic.
// Converting back with the bias and relu saves a separate fp32 pass over the output (8 bytes
// an element: AlexNet's conv outputs, 62M elements at batch 128, are 0.5 GB a step).
#pragma once

#include <cstddef>
#include <cstdint>

namespace umbra::nn {

/// dst[i] = bf16(src[i]) (round to nearest even), on `stream` (a cudaStream_t; null: default).
void CastToBF16(const float* src, uint16_t* dst, size_t n, void* stream);
/// dst[i] = float(src[i]), or with add dst[i] += float(src[i]) (a gradient accumulated).
void CastFromBF16(const uint16_t* src, float* dst, size_t n, void* stream, bool add = false);
/// A bf16 convolution's output as the layer gives it: dst[i] = float(src[i]) + bias[c], then
/// max(0, .) where relu, in the one pass the conversion makes anyway (bias may be null). The
/// channel of element i is (i / inner) % channels: inner = oh * ow for (n, c, oh, ow), 1 for
/// channels-last.
void CastFromBF16Bias(const uint16_t* src, const float* bias, float* dst, size_t n, size_t inner, size_t channels,
                      bool relu, void* stream);
/// bf16 nodes (NetSpec::bf16_nodes): x[i] = bf16(float(x[i]) + bias[c]), relu'd where relu, in
/// place (bias may be null; channel as for CastFromBF16Bias).
void BiasReluBF16(uint16_t* x, const float* bias, size_t n, size_t inner, size_t channels, bool relu, void* stream);
/// bf16 nodes: a fused relu's backward, grad[i] *= (y[i] > 0 ? 1 : 0), in place.
void ReluMaskBF16(uint16_t* grad, const uint16_t* y, size_t n, void* stream);
/// dst (outer, b, a) = bf16(src (outer, a, b)): a channels-last bf16 convolution's filter,
/// (K, C/g, R*S) weights moved to (K, R*S, C/g) and cast in one pass (it was two).
void SwapInnerToBF16(const float* src, uint16_t* dst, size_t outer, size_t a, size_t b, void* stream);
/// dst (outer, b, a) += float(src (outer, a, b)): its bf16 (K, R*S, C/g) weight gradient added
/// into the layer's (K, C/g, R*S) one in one pass.
void SwapInnerFromBF16Add(const uint16_t* src, float* dst, size_t outer, size_t a, size_t b, void* stream);
/// bf16 nodes: y = bf16(x[0] + ... + x[k-1]) summed in fp32 (then max(0, .) where relu); y
/// may be one of the x.
void SumBF16(uint16_t* y, const uint16_t* const* x, size_t k, size_t n, bool relu, void* stream);
/// bf16 nodes: dst = src, n values (nothing when they are the same buffer).
void CopyBF16(uint16_t* dst, const uint16_t* src, size_t n, void* stream);

}  // namespace umbra::nn
