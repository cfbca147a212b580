#include <gtest/gtest.h>
#include "umbra/tensor.h"
using namespace umbra;
TEST(GpuSmoke, Fused) {
  if (GPUCount() == 0) GTEST_SKIP() << "no CUDA device";
  TensorContainer<gpu, 2> a(Shape2(3, 5), 1.f), b(Shape2(3, 5), 2.f), c(Shape2(3,5));
  c = a * b + 3.f - F<op::relu>(a);
  Random<gpu> rnd(1);
  rnd.SampleGaussian(&c);
}
