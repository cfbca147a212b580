// dropout on the GPU: the same template as the CPU (the mask is drawn by Random<gpu>'s Philox
// kernel, from a counter in device memory: CUDA graph replays draw new masks).
#include "dropout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "dropout", umbra::nn::DropoutLayer, umbra::nn::DropoutParam);
