// lrn on the CPU (float for training, double for gradient checks).
#include "lrn-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "lrn", umbra::nn::LrnLayer, umbra::nn::LrnParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "lrn", umbra::nn::LrnLayer, umbra::nn::LrnParam);
