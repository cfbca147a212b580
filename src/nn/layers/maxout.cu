// maxout on the GPU: the same template as the CPU.
#include "maxout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "maxout", umbra::nn::MaxoutLayer, umbra::nn::MaxoutParam);
