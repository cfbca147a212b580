// conv on the CPU (float for training, double for gradient checks).
#include "conv-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "conv", umbra::nn::ConvolutionLayer, umbra::nn::ConvParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "conv", umbra::nn::ConvolutionLayer, umbra::nn::ConvParam);
