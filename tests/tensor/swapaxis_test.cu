// swapaxis on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/swapaxis.h"

namespace umbra {
namespace {

TEST(SwapAxisGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(2, 3, 5, 7), 1);
  auto f13 = [](auto out, auto a) { out = swapaxis<1, 3>(a) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(f13, Shape4(2, 7, 5, 3), 1e-6, x.view())));
  auto f02 = [](auto out, auto a) { out += swapaxis<2, 0>(a.SliceLast(1, 6)); };
  EXPECT_TRUE((test::SameOnGPU<4, float>(f02, Shape4(5, 3, 2, 5), 1e-6, x.view())));
}

}  // namespace
}  // namespace umbra
