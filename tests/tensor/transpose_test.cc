// transpose(src, axes) against a plain multi-index loop: several permutations of 2-, 3- and 4-D
// sources, strided sources and destinations, composition, and the not-a-permutation error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/swapaxis.h"
#include "umbra/tensor/ext/transpose.h"

namespace umbra {
namespace {

using test::AtIdx;

/// out[i] == src[j] with j[axes[k]] = i[k], over every element of out.
template <int N>
void ExpectPermuted(const Tensor<cpu, N>& out, const Tensor<cpu, N>& src, const Shape<N>& axes) {
  for (int k = 0; k < N; ++k) ASSERT_EQ(out.shape_[k], src.shape_[axes[k]]);
  for (index_t f = 0; f < out.shape_.Size(); ++f) {
    index_t oi[N], si[N], r = f;
    for (int d = N - 1; d >= 0; --d) {
      oi[d] = r % out.shape_[d];
      r /= out.shape_[d];
    }
    for (int k = 0; k < N; ++k) si[axes[k]] = oi[k];
    ASSERT_EQ(AtIdx(out, oi), AtIdx(src, si)) << "flat " << f << " axes " << axes;
  }
}

template <int N>
void Check(const Tensor<cpu, N>& src, const Shape<N>& axes) {
  auto e = transpose(src, axes);
  static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
  TensorContainer<cpu, N> out;
  out = e;
  ExpectPermuted(out.view(), src, axes);
}

TEST(Transpose, Permutations) {
  auto x2 = test::RandomTensor(Shape2(3, 7), 1);
  Check(x2.view(), Shape2(1, 0));
  Check(x2.view(), Shape2(0, 1));
  auto x3 = test::RandomTensor(Shape3(3, 1, 17), 2);
  Check(x3.view(), Shape3(2, 0, 1));
  Check(x3.view(), Shape3(1, 2, 0));
  Check(x3.view(), Shape3(2, 1, 0));
  auto x4 = test::RandomTensor(Shape4(2, 3, 5, 7), 3);
  Check(x4.view(), Shape4(0, 2, 3, 1));  // NCHW -> NHWC
  Check(x4.view(), Shape4(0, 3, 1, 2));  // NHWC -> NCHW order of indices
  Check(x4.view(), Shape4(3, 2, 1, 0));
  Check(x4.view(), Shape4(1, 0, 2, 3));
  auto x1 = test::RandomTensor(Shape1(5), 4);
  Check(x1.view(), Shape1(0));
}

TEST(Transpose, MatchesDotTransposeAndSwapAxis) {
  auto x = test::RandomTensor(Shape2(5, 3), 5);
  TensorContainer<cpu, 2> a(Shape2(3, 5)), b(Shape2(3, 5));
  a = transpose(x.view(), Shape2(1, 0));
  b = x.view().T();
  EXPECT_TRUE(test::AllNear(a.view(), b.view(), 0));
  auto y = test::RandomTensor(Shape4(2, 3, 4, 5), 6);
  TensorContainer<cpu, 4> c(Shape4(2, 5, 4, 3)), d(Shape4(2, 5, 4, 3));
  c = transpose(y.view(), Shape4(0, 3, 2, 1));
  d = swapaxis<1, 3>(y.view());
  EXPECT_TRUE(test::AllNear(c.view(), d.view(), 0));
}

TEST(Transpose, StridedSourceDestinationAndComposition) {
  auto x = test::RandomTensor(Shape3(4, 3, 5), 7);
  test::Strided<3, float> s(x.view());
  Check(s.view, Shape3(2, 0, 1));
  TensorContainer<cpu, 3> base(Shape3(5, 4, 6), 0.f);
  Tensor<cpu, 3> dst = base.SliceLast(1, 4);  // (5, 4, 3), stride 6
  dst = transpose(s.view, Shape3(2, 0, 1));
  ExpectPermuted(dst, x.view(), Shape3(2, 0, 1));
  dst += transpose(swapaxis<0, 1>(s.view) * 2.f, Shape3(2, 1, 0));
  for (index_t i = 0; i < 5; ++i)
    for (index_t j = 0; j < 4; ++j)
      for (index_t k = 0; k < 3; ++k)
        EXPECT_FLOAT_EQ(test::At(dst, i, j, k), 3 * test::At(x.view(), j, k, i));
  for (index_t r = 0; r < 20; ++r) EXPECT_EQ(base.dptr_[r * 6], 0.f);
}

TEST(Transpose, NotAPermutationNamesAxesAndShape) {
  auto x = test::RandomTensor(Shape3(2, 3, 4), 8);
  for (const Shape<3>& bad : {Shape3(0, 0, 1), Shape3(0, 1, 3), Shape3(-1, 1, 2)}) {
    try {
      transpose(x.view(), bad);
      FAIL() << "no error for " << bad;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(bad.ToString()), std::string::npos) << m;
      EXPECT_NE(m.find("(2,3,4)"), std::string::npos) << m;
    }
  }
}

}  // namespace
}  // namespace umbra
