// Pooling layers on the CPU (float for training, double for gradient checks).
#include "pooling-inl.h"
#include "umbra/nn/registry.h"

namespace nn = umbra::nn;
#define UMBRA_POOLING_REGISTER_(DType)                                                          \
  UMBRA_REGISTER_LAYER(umbra::cpu, DType, "max_pooling", nn::MaxPoolingLayer, nn::PoolingParam); \
  UMBRA_REGISTER_LAYER(umbra::cpu, DType, "sum_pooling", nn::SumPoolingLayer, nn::PoolingParam); \
  UMBRA_REGISTER_LAYER(umbra::cpu, DType, "avg_pooling", nn::AvgPoolingLayer, nn::PoolingParam); \
  UMBRA_REGISTER_LAYER(umbra::cpu, DType, "global_max_pooling", nn::GlobalMaxPoolingLayer,     \
                       nn::GlobalPoolingParam);                                                \
  UMBRA_REGISTER_LAYER(umbra::cpu, DType, "global_avg_pooling", nn::GlobalAvgPoolingLayer,     \
                       nn::GlobalPoolingParam)
UMBRA_POOLING_REGISTER_(float);
UMBRA_POOLING_REGISTER_(double);
