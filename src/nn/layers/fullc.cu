// fullc on the GPU: the same template as the CPU.
#include "fullc-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "fullc", umbra::nn::FullcLayer, umbra::nn::FullcParam);
