// broadcast / repmat on the GPU against the CPU result.
#include "harness/gpu_compare.h"

namespace umbra {
namespace {

TEST(BroadcastGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto b = test::RandomTensor(Shape1(7), 1);
  auto x = test::RandomTensor(Shape3(5, 7, 9), 2);
  auto last = [](auto out, auto bias) { out = repmat(bias, out.size(0)) + 1.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(last, Shape2(13, 7), 1e-6, b.view())));
  auto mid = [](auto out, auto bias, auto in) { out = in * broadcast<1>(bias, out.shape_); };
  EXPECT_TRUE((test::SameOnGPU<3, float>(mid, Shape3(5, 7, 9), 1e-6, b.view(), x.view())));
}

}  // namespace
}  // namespace umbra
