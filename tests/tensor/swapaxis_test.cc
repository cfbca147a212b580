// swapaxis<a, b> against a plain multi-index loop for every axis pair of 2-, 3- and 4-D sources,
// strided sources and destinations, composition (with itself and elementwise ops).
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/swapaxis.h"

namespace umbra {
namespace {

using test::AtIdx;

/// Checks out == src with axes a and b exchanged, over every element of out.
template <int N>
void ExpectSwapped(const Tensor<cpu, N>& out, const Tensor<cpu, N>& src, int a, int b) {
  const index_t n = out.shape_.Size();
  for (index_t f = 0; f < n; ++f) {
    index_t oi[N], si[N], r = f;
    for (int d = N - 1; d >= 0; --d) {
      oi[d] = r % out.shape_[d];
      r /= out.shape_[d];
    }
    for (int d = 0; d < N; ++d) si[d] = oi[d];
    si[a] = oi[b];
    si[b] = oi[a];
    ASSERT_EQ(AtIdx(out, oi), AtIdx(src, si)) << "flat " << f << " swapping " << a << "," << b;
  }
}

template <int a, int b, int N>
void CheckPair(const Tensor<cpu, N>& src) {
  auto e = swapaxis<a, b>(src);
  static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
  TensorContainer<cpu, N> out;
  out = e;
  Shape<N> want = src.shape_;
  want[a] = src.shape_[b];
  want[b] = src.shape_[a];
  ASSERT_EQ(out.shape_, want);
  ExpectSwapped(out.view(), src, a, b);
}

TEST(SwapAxis, TwoD) {
  for (index_t r : {1, 3, 17})
    for (index_t c : {1, 7}) {
      auto x = test::RandomTensor(Shape2(r, c), 1);
      CheckPair<0, 1>(x.view());
      CheckPair<1, 0>(x.view());
      CheckPair<1, 1>(x.view());
    }
}

TEST(SwapAxis, ThreeAndFourD) {
  auto x3 = test::RandomTensor(Shape3(3, 5, 7), 2);
  CheckPair<0, 1>(x3.view());
  CheckPair<0, 2>(x3.view());
  CheckPair<1, 2>(x3.view());
  CheckPair<2, 0>(x3.view());
  auto x4 = test::RandomTensor(Shape4(2, 3, 1, 5), 3);
  CheckPair<0, 3>(x4.view());
  CheckPair<1, 2>(x4.view());
  CheckPair<1, 3>(x4.view());
  CheckPair<2, 0>(x4.view());
}

TEST(SwapAxis, StridedSourceAndDestination) {
  auto x = test::RandomTensor(Shape3(4, 3, 5), 4);
  test::Strided<3, float> s(x.view());
  CheckPair<0, 2>(s.view);
  CheckPair<1, 2>(s.view);
  TensorContainer<cpu, 3> base(Shape3(5, 3, 9), 0.f);
  Tensor<cpu, 3> dst = base.SliceLast(2, 6);  // (5, 3, 4), stride 9
  dst = swapaxis<0, 2>(s.view);
  ExpectSwapped(dst, x.view(), 0, 2);
  for (index_t r = 0; r < 15; ++r) EXPECT_EQ(base.dptr_[r * 9 + 1], 0.f);
}

TEST(SwapAxis, ComposesWithItselfAndElementwise) {
  auto x = test::RandomTensor(Shape3(3, 4, 5), 5);
  auto y = test::RandomTensor(Shape3(5, 4, 3), 6);
  TensorContainer<cpu, 3> back(x.shape_);
  back = swapaxis<0, 2>(swapaxis<2, 0>(x.view()));
  EXPECT_TRUE(test::AllNear(back.view(), x.view(), 0));
  TensorContainer<cpu, 3> out(y.shape_);
  out = swapaxis<0, 2>(x.view() * 2.f) + y.view();
  for (index_t i = 0; i < 5; ++i)
    for (index_t j = 0; j < 4; ++j)
      for (index_t k = 0; k < 3; ++k)
        EXPECT_FLOAT_EQ(test::At(out.view(), i, j, k),
                        2 * test::At(x.view(), k, j, i) + test::At(y.view(), i, j, k));
}

TEST(SwapAxis, WrongDestinationNamesShapes) {
  auto x = test::RandomTensor(Shape3(3, 4, 5), 7);
  TensorContainer<cpu, 3> out(Shape3(3, 4, 5));
  try {
    Tensor<cpu, 3> view = out;  // a view: no resize, so the shapes must match
    view = swapaxis<0, 1>(x.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(4,3,5)"), std::string::npos) << m;
    EXPECT_NE(m.find("(3,4,5)"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace umbra
