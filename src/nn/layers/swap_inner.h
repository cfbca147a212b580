// The channels-last convolution's filter layout (cudnn/conv_cudnn.cc): the layer's weights stay
// (K, C, R, S) for every device, model file and updater, and cuDNN's NHWC kernels take
// (K, R, S, C): the fp32 backend moves them on the GPU in each call (a weight-sized pass, small
// against the activations' traffic); the bf16 one moves them as it casts (bf16_cast.h). Kernel
// in src/nn/swap_inner.cu (CUDA builds).
#pragma once

#include "umbra/base.h"

namespace umbra::nn {

/// dst (outer, b, a) = src (outer, a, b) with the last two axes swapped, on `stream` (a
/// cudaStream_t; null: the thread's default stream); with add, dst += the swapped src (a weight
/// gradient accumulated).
void SwapInnerAxesGPU(const float* src, float* dst, index_t outer, index_t a, index_t b, void* stream,
                      bool add = false);

}  // namespace umbra::nn
