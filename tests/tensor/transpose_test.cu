// transpose (runtime axes) on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/transpose.h"

namespace umbra {
namespace {

TEST(TransposeGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(2, 3, 5, 7), 1);
  auto nhwc = [](auto out, auto a) { out = transpose(a, Shape4(0, 2, 3, 1)) + 1.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(nhwc, Shape4(2, 5, 7, 3), 1e-6, x.view())));
  auto rev = [](auto out, auto a) { out = transpose(a.SliceLast(2, 7), Shape4(3, 2, 1, 0)); };
  EXPECT_TRUE((test::SameOnGPU<4, float>(rev, Shape4(5, 5, 3, 2), 1e-6, x.view())));
  // Two and five dimensions: no row split at all, and three (the first is what is left of y).
  auto m = test::RandomTensor(Shape2(6, 11), 2);
  auto t2 = [](auto out, auto a) { out = transpose(a, Shape2(1, 0)); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(t2, Shape2(11, 6), 1e-6, m.view())));
  auto v = test::RandomTensor(Shape5(2, 3, 4, 5, 6), 3);
  auto t5 = [](auto out, auto a) { out = transpose(a, Shape5(3, 0, 4, 2, 1)); };
  EXPECT_TRUE((test::SameOnGPU<5, float>(t5, Shape5(5, 2, 6, 4, 3), 1e-6, v.view())));
}

}  // namespace
}  // namespace umbra
