// concat on the GPU against the CPU result: reading (nested) and splitting (write-through).
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/concat.h"

namespace umbra {
namespace {

TEST(ConcatGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto a = test::RandomTensor(Shape3(3, 2, 5), 1);
  auto b = test::RandomTensor(Shape3(3, 5, 5), 2);
  auto c = test::RandomTensor(Shape3(3, 7, 4), 3);
  auto rd = [](auto out, auto x, auto y, auto z) {
    out = concat<2>(concat<1>(x, y * 2.f), z) + 1.f;
  };
  EXPECT_TRUE((test::SameOnGPU<3, float>(rd, Shape3(3, 7, 9), 1e-6, a.view(), b.view(),
                                         c.view())));
  // Split: rows of out (tensor parts), then channels of out (writable slice parts).
  auto split = [](auto out, auto z) {
    concat<0>(out.Slice(0, 1), out.Slice(1, 3)) = z * 3.f;
    concat<1>(slice<1>(out, 0, 2), slice<1>(out, 2, 7)) += z;
  };
  EXPECT_TRUE((test::SameOnGPU<3, float>(split, Shape3(3, 7, 4), 1e-6, c.view())));
}

}  // namespace
}  // namespace umbra
