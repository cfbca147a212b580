// expect: different numbers of dimensions
#include "umbra/tensor.h"
void F(umbra::Tensor<umbra::cpu, 2> a, umbra::Tensor<umbra::cpu, 3> b) { a = b * 2.f; }
