// pad on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/pad.h"

namespace umbra {
namespace {

TEST(PadGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(2, 3, 5, 7), 1);
  auto sym = [](auto out, auto a) { out = pad(a, 1) * 2.f + 1.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(sym, Shape4(2, 3, 7, 9), 1e-6, x.view())));
  auto asym = [](auto out, auto a) { out += pad(a.SliceLast(1, 6), 2, 0); };
  EXPECT_TRUE((test::SameOnGPU<4, float>(asym, Shape4(2, 3, 9, 5), 1e-6, x.view())));
}

}  // namespace
}  // namespace umbra
