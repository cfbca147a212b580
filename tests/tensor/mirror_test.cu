// mirror on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/mirror.h"

namespace umbra {
namespace {

TEST(MirrorGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(2, 3, 5, 7), 1);
  auto f = [](auto out, auto a) { out = mirror(a) - a; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(f, Shape4(2, 3, 5, 7), 1e-6, x.view())));
  auto g = [](auto out, auto a) { out = mirror(a.SliceLast(2, 6)) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(g, Shape4(2, 3, 5, 4), 1e-6, x.view())));
}

}  // namespace
}  // namespace umbra
