// to_nhwc and to_nchw on the GPU: the same templates as the CPU.
#include "layout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYOUT(umbra::gpu, float);
