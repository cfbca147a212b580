// batch_norm and batch_norm_no_ma on the GPU: the same template as the CPU.
#include "batch_norm-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "batch_norm", umbra::nn::BatchNormMALayer,
                     umbra::nn::BatchNormParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "batch_norm_no_ma", umbra::nn::BatchNormNoMALayer,
                     umbra::nn::BatchNormParam);
