// dropout on the CPU (float for training, double for gradient checks).
#include "dropout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "dropout", umbra::nn::DropoutLayer, umbra::nn::DropoutParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "dropout", umbra::nn::DropoutLayer, umbra::nn::DropoutParam);
