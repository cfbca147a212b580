// to_nhwc and to_nchw on the CPU (float for training, double for gradient checks).
#include "layout-inl.h"
#include "umbra/nn/registry.h"

UMBRA_REGISTER_LAYOUT(umbra::cpu, float);
UMBRA_REGISTER_LAYOUT(umbra::cpu, double);
