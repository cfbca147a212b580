// Pooling layers on the GPU: the same template as the CPU (pool/unpool as one kernel each).
#include "pooling-inl.h"
#include "umbra/nn/registry.h"

namespace nn = umbra::nn;
UMBRA_REGISTER_LAYER(umbra::gpu, float, "max_pooling", nn::MaxPoolingLayer, nn::PoolingParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "sum_pooling", nn::SumPoolingLayer, nn::PoolingParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "avg_pooling", nn::AvgPoolingLayer, nn::PoolingParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "global_max_pooling", nn::GlobalMaxPoolingLayer,
                     nn::GlobalPoolingParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "global_avg_pooling", nn::GlobalAvgPoolingLayer,
                     nn::GlobalPoolingParam);
