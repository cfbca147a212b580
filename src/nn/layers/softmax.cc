// softmax on the CPU (float for training, double for gradient checks).
#include "softmax-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "softmax", umbra::nn::SoftmaxLayer,
                     umbra::nn::SoftmaxParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "softmax", umbra::nn::SoftmaxLayer,
                     umbra::nn::SoftmaxParam);
