// maxout on the CPU (float for training, double for gradient checks).
#include "maxout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "maxout", umbra::nn::MaxoutLayer, umbra::nn::MaxoutParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "maxout", umbra::nn::MaxoutLayer, umbra::nn::MaxoutParam);
