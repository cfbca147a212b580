// fixconn on the CPU (float for training, double for gradient checks).
#include "fixconn-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "fixconn", umbra::nn::FixconnLayer, umbra::nn::FixconnParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "fixconn", umbra::nn::FixconnLayer, umbra::nn::FixconnParam);
