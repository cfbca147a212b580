// flatten, split, concat, ch_concat, eltwise_sum and bias on the CPU (float for training, double
// for gradient checks).
#include "structure-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_STRUCTURE(umbra::cpu, float);
UMBRA_REGISTER_STRUCTURE(umbra::cpu, double);
