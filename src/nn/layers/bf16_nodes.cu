// to_bf16 and to_fp32 (bf16_nodes-inl.h): GPU float only.
#include "bf16_nodes-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "to_bf16", umbra::nn::ToBF16Layer, umbra::nn::StructureParam);
UMBRA_REGISTER_LAYER(umbra::gpu, float, "to_fp32", umbra::nn::ToFp32Layer, umbra::nn::StructureParam);
