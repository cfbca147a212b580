// flatten, split, concat, ch_concat, eltwise_sum and bias on the GPU: the same templates as the CPU.
#include "structure-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_STRUCTURE(umbra::gpu, float);
