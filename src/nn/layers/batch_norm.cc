// batch_norm and batch_norm_no_ma on the CPU (float for training, double for gradient checks).
#include "batch_norm-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "batch_norm", umbra::nn::BatchNormMALayer,
                     umbra::nn::BatchNormParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "batch_norm", umbra::nn::BatchNormMALayer,
                     umbra::nn::BatchNormParam);
UMBRA_REGISTER_LAYER(umbra::cpu, float, "batch_norm_no_ma", umbra::nn::BatchNormNoMALayer,
                     umbra::nn::BatchNormParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "batch_norm_no_ma", umbra::nn::BatchNormNoMALayer,
                     umbra::nn::BatchNormParam);
