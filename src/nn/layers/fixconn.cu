// fixconn on the GPU: the same template as the CPU; the matrix is read on the host and copied.
#include "fixconn-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYER(umbra::gpu, float, "fixconn", umbra::nn::FixconnLayer, umbra::nn::FixconnParam);
