// one_hot_encode on the GPU against the CPU result (in-range and out-of-range indices).
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/one_hot.h"

namespace umbra {
namespace {

TEST(OneHotGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  TensorContainer<cpu, 1> idx(Shape1(9));
  for (index_t i = 0; i < 9; ++i) idx.dptr_[i] = float((i * 5) % 8 - 1);  // -1 and 7 fall out
  auto f = [](auto out, auto i) { out = one_hot_encode(i, 7) * 2.f - 1.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(f, Shape2(9, 7), 0, idx.view())));
}

}  // namespace
}  // namespace umbra
