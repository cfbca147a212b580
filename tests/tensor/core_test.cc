#include <gtest/gtest.h>
#include "umbra/tensor.h"
using namespace umbra;
TEST(Smoke, Fused) {
  TensorContainer<cpu, 2> a(Shape2(3, 5), 1.f), b(Shape2(3, 5), 2.f), c(Shape2(3,5));
  c = a * b + 3.f - F<op::relu>(a);
  EXPECT_EQ(c.dptr_[0], 4.f);
  TensorContainer<cpu, 2> d(Shape2(5, 3));
  TensorContainer<cpu, 2> e(Shape2(3, 3));
  d = 1.f;
  e = dot(c, d);
  EXPECT_EQ(e.dptr_[0], 20.f);
}
