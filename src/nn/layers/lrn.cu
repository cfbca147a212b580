// lrn on the GPU: the same template as the CPU.
#include "lrn-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "lrn", umbra::nn::LrnLayer, umbra::nn::LrnParam);
