// expect: entire right-hand side
#include "umbra/tensor.h"
void F(umbra::Tensor<umbra::cpu, 2> a, umbra::Tensor<umbra::cpu, 2> c) {
  c = umbra::dot(a, a) + c;
}
