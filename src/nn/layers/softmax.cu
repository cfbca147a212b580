// softmax on the GPU: the same template as the CPU.
#include "softmax-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "softmax", umbra::nn::SoftmaxLayer,
                     umbra::nn::SoftmaxParam);
