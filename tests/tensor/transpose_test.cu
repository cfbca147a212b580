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
}

}  // namespace
}  // namespace umbra
