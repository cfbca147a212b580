// Activations on the GPU: the same template as the CPU.
#include "activation-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_ACTIVATIONS(umbra::gpu, float);
