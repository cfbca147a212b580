// l2_loss, lp_loss and multi_logistic on the CPU (float for training, double for gradient checks).
#include "loss-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::cpu, float, "l2_loss", umbra::nn::L2LossLayer, umbra::nn::L2LossParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "l2_loss", umbra::nn::L2LossLayer, umbra::nn::L2LossParam);
UMBRA_REGISTER_LAYER(umbra::cpu, float, "lp_loss", umbra::nn::LpLossLayer, umbra::nn::LpLossParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "lp_loss", umbra::nn::LpLossLayer, umbra::nn::LpLossParam);
UMBRA_REGISTER_LAYER(umbra::cpu, float, "multi_logistic", umbra::nn::MultiLogisticLayer,
                     umbra::nn::L2LossParam);
UMBRA_REGISTER_LAYER(umbra::cpu, double, "multi_logistic", umbra::nn::MultiLogisticLayer,
                     umbra::nn::L2LossParam);
