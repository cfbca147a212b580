// prelu, rrelu and insanity on the GPU: the same templates as the CPU.
#include "prelu-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_PRELU(umbra::gpu, float);
