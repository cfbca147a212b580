// dropout on the GPU: the same template as the CPU (the mask is drawn by cuRAND).
#include "dropout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "dropout", umbra::nn::DropoutLayer, umbra::nn::DropoutParam);
