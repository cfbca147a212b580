// Activations on the CPU (float for training, double for gradient checks).
#include "activation-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_ACTIVATIONS(umbra::cpu, float);
UMBRA_REGISTER_ACTIVATIONS(umbra::cpu, double);
