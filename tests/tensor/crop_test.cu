// crop on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/crop.h"
#include "umbra/tensor/ext/pad.h"

namespace umbra {
namespace {

TEST(CropGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(2, 3, 7, 9), 1);
  auto centre = [](auto out, auto a) { out = crop(a, Shape2(4, 5)) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(centre, Shape4(2, 3, 4, 5), 1e-6, x.view())));
  auto at = [](auto out, auto a) { out = crop(pad(a.SliceLast(1, 8), 1), Shape2(3, 6), 2, 1); };
  EXPECT_TRUE((test::SameOnGPU<4, float>(at, Shape4(2, 3, 3, 6), 1e-6, x.view())));
}

}  // namespace
}  // namespace umbra
