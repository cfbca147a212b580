// expect: mixes cpu and gpu
#include "umbra/tensor.h"
void F(umbra::Tensor<umbra::cpu, 1> a, umbra::Tensor<umbra::gpu, 1> b) { a = a + b; }
