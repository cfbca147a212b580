// prelu, rrelu and insanity on the CPU (float for training, double for gradient checks).
#include "prelu-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_PRELU(umbra::cpu, float);
UMBRA_REGISTER_PRELU(umbra::cpu, double);
