// reshape on the GPU against the CPU result: contiguous (flat path) and strided sources.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/reshape.h"

namespace umbra {
namespace {

TEST(ReshapeGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto a = test::RandomTensor(Shape3(3, 5, 7), 1);
  auto b = test::RandomTensor(Shape2(7, 15), 2);
  auto flat = [](auto out, auto x, auto y) { out = reshape(x, out.shape_) * 2.f + y; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(flat, Shape2(7, 15), 1e-6, a.view(), b.view())));
  // Columns 1..5 of each row: a strided source (no flat path), reshaped across row boundaries.
  auto strided = [](auto out, auto x) { out = reshape(x.SliceLast(1, 6), out.shape_) - 1.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(strided, Shape2(5, 15), 1e-6, a.view())));
}

}  // namespace
}  // namespace umbra
