// l2_loss, lp_loss and multi_logistic on the GPU: the same template as the CPU.
#include "loss-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "l2_loss", umbra::nn::L2LossLayer, umbra::nn::L2LossParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "lp_loss", umbra::nn::LpLossLayer, umbra::nn::LpLossParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "multi_logistic", umbra::nn::MultiLogisticLayer,
                     umbra::nn::L2LossParam);
