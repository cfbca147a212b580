// take and AddTakeGrad on the GPU against the CPU result (repeated indices, float and double),
// and the GPU's clamping of out-of-range take indices.
#include <limits>

#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/take.h"

namespace umbra {
namespace {

template <typename DType>
TensorContainer<cpu, 1, DType> Indices(index_t n, index_t rows) {
  TensorContainer<cpu, 1, DType> idx(Shape1(n));
  for (index_t i = 0; i < n; ++i) idx.dptr_[i] = DType((i * 7 + 3) % rows);
  return idx;
}

TEST(TakeGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto w = test::RandomTensor(Shape2(11, 13), 1);
  auto idx = Indices<float>(40, 11);
  auto f = [](auto out, auto i, auto src) { out = take(i, src.SliceLast(2, 11)) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(f, Shape2(40, 9), 0, idx.view(), w.view())));
}

TEST(TakeGPU, ClampsOutOfRangeIndices) {
  UMBRA_REQUIRE_GPU();
  auto w = test::RandomTensor(Shape2(4, 5), 2);
  // Non-finite and huge indices too: clamped while still floating point (an integer conversion
  // of them is undefined, and x86 and the GPU would pick different rows). NaN takes row 0.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  float bad[9] = {-3.f, 9.f, 2.f, inf, -inf, nan, 1e30f, -1e30f, 3.5f};
  float clamped[9] = {0.f, 3.f, 2.f, 3.f, 0.f, 0.f, 3.f, 0.f, 3.f};
  auto gi = test::ToGPU(Tensor<cpu, 1>(bad, Shape1(9)));
  auto gw = test::ToGPU(w.view());
  TensorContainer<gpu, 2> gout(Shape2(9, 5));
  gout = take(gi.view(), gw.view());
  TensorContainer<cpu, 2> want(Shape2(9, 5));
  want = take(Tensor<cpu, 1>(clamped, Shape1(9)), w.view());
  EXPECT_TRUE(test::AllNear(test::ToCPU(gout.view()).view(), want.view(), 0));
  // The gradient's scatter clamps the same way: every row of grad lands where take read it.
  TensorContainer<cpu, 2> g(Shape2(9, 5), 1.f), want_dw(Shape2(4, 5), 0.f);
  AddTakeGrad(want_dw.view(), Tensor<cpu, 1>(clamped, Shape1(9)), g.view());
  auto gg = test::ToGPU(g.view());
  TensorContainer<gpu, 2> dw(Shape2(4, 5), 0.f);
  AddTakeGrad(dw.view(), gi.view(), gg.view());
  EXPECT_TRUE(test::AllNear(test::ToCPU(dw.view()).view(), want_dw.view(), 0));
}

TEST(AddTakeGradGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto fidx = Indices<float>(300, 7);  // each row repeated ~43 times: atomics must accumulate
  auto fg = test::RandomTensor(Shape2(300, 33), 3);
  auto f = [](auto out, auto i, auto g) { AddTakeGrad(out, i, g); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(f, Shape2(7, 33), 1e-5, fidx.view(), fg.view())));
  auto didx = Indices<double>(300, 7);
  auto dg = test::RandomTensor<2, double>(Shape2(300, 33), 4);
  EXPECT_TRUE((test::SameOnGPU<2, double>(f, Shape2(7, 33), 1e-12, didx.view(), dg.view())));
}

}  // namespace
}  // namespace umbra
