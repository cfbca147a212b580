// fullc on the CPU (float for training, double for gradient checks).
#include "fullc-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "fullc", umbra::nn::FullcLayer, umbra::nn::FullcParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "fullc", umbra::nn::FullcLayer, umbra::nn::FullcParam);
