// slice on the GPU against the CPU result: reads on several dimensions, and write-through.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/slice.h"

namespace umbra {
namespace {

TEST(SliceGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(3, 5, 7, 9), 1);
  auto mid = [](auto out, auto a) { out = slice<1>(slice<2>(a, 2, 6), 1, 4) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(mid, Shape4(3, 3, 4, 9), 1e-6, x.view())));
  auto last = [](auto out, auto a) { out = slice<3>(a, 3, 8) - 1.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(last, Shape4(3, 5, 7, 5), 1e-6, x.view())));
  // Write-through: the rest of `out` keeps its (random, identical) initial values.
  auto y = test::RandomTensor(Shape3(4, 2, 6), 2);
  auto write = [](auto out, auto b) {
    slice<1>(out, 1, 3) = b * 3.f;
    slice<0>(slice<1>(out, 3, 5), 1, 3) += slice<0>(b, 0, 2);
  };
  EXPECT_TRUE((test::SameOnGPU<3, float>(write, Shape3(4, 5, 6), 1e-6, y.view())));
}

}  // namespace
}  // namespace umbra
