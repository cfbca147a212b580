// conv on the GPU: the same template as the CPU (cuBLAS GEMMs, im2col/col2im as kernels).
#include "conv-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "conv", umbra::nn::ConvolutionLayer, umbra::nn::ConvParam);
