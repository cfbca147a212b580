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

// A kernel over its own memory read through a mapping races as a CPU loop does: a gpu view's
// `v = v.T()` is the same error (checked on the host), and a container takes it into new storage.
TEST(TransposeGPU, IntoItsOwnMemory) {
  UMBRA_REQUIRE_GPU();
  auto m = test::RandomTensor(Shape2(5, 5), 4);
  auto g = test::ToGPU(m.view());
  Tensor<gpu, 2> v = g.view();
  EXPECT_HAS(test::ErrorOf([&] { v = v.T() + 1.f; }), "shares memory");
  g = g.view().T();
  auto back = test::ToCPU(g.view());
  for (index_t y = 0; y < 5; ++y)
    for (index_t x = 0; x < 5; ++x) ASSERT_EQ(back.dptr_[y * 5 + x], m.dptr_[x * 5 + y]) << y << ", " << x;
}

}  // namespace
}  // namespace umbra
