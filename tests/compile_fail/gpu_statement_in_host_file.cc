// expect: must be compiled by nvcc
#include "umbra/tensor.h"
void F(umbra::Tensor<umbra::gpu, 1> a) { a = a * 2.f; }
