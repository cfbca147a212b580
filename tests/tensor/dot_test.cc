// dot(): gemm with every transpose combination, gemv both ways, outer product, savers and scale,
// strided operands, float (oneDNN or OpenBLAS) and double (OpenBLAS), against a triple loop.
#include <climits>

#include "harness/tensor_util.h"

namespace umbra {
namespace {
using test::At;

template <typename DType>
DType OpAt(const Tensor<cpu, 2, DType>& t, bool trans, index_t i, index_t j) {
  return trans ? At(t, j, i) : At(t, i, j);
}

template <typename DType>
void CheckGemm(index_t m, index_t n, index_t k, bool ta, bool tb, bool strided) {
  auto a = test::RandomTensor<2, DType>(ta ? Shape2(k, m) : Shape2(m, k), 1);
  auto b = test::RandomTensor<2, DType>(tb ? Shape2(n, k) : Shape2(k, n), 2);
  test::Strided<2, DType> sa(a.view()), sb(b.view(), 2);
  Tensor<cpu, 2, DType> av = strided ? sa.view : a.view(), bv = strided ? sb.view : b.view();
  auto c0 = test::RandomTensor<2, DType>(Shape2(m, n), 3);
  TensorContainer<cpu, 2, DType> c1 = c0, c2 = c0, c3 = c0;
  if (!ta && !tb) c1 = dot(av, bv), c2 += dot(av, bv) * DType(2), c3 -= DType(0.5) * dot(av, bv);
  if (ta && !tb) c1 = dot(av.T(), bv), c2 += dot(av.T(), bv) * DType(2), c3 -= DType(0.5) * dot(av.T(), bv);
  if (!ta && tb) c1 = dot(av, bv.T()), c2 += dot(av, bv.T()) * DType(2), c3 -= DType(0.5) * dot(av, bv.T());
  if (ta && tb) c1 = dot(av.T(), bv.T()), c2 += dot(av.T(), bv.T()) * DType(2), c3 -= DType(0.5) * dot(av.T(), bv.T());
  const double tol = std::is_same_v<DType, float> ? 1e-4 : 1e-12;
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      double s = 0;
      for (index_t p = 0; p < k; ++p) s += double(OpAt(a.view(), ta, i, p)) * OpAt(b.view(), tb, p, j);
      const double base = At(c0.view(), i, j);
      ASSERT_NEAR(At(c1.view(), i, j), s, tol * (1 + std::fabs(s))) << i << "," << j;
      ASSERT_NEAR(At(c2.view(), i, j), base + 2 * s, tol * (1 + std::fabs(s)));
      ASSERT_NEAR(At(c3.view(), i, j), base - 0.5 * s, tol * (1 + std::fabs(s)));
    }
}

TEST(Dot, GemmAllTransposesFloatAndDouble) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool strided : {false, true}) {
        CheckGemm<float>(7, 5, 3, ta, tb, strided);
        CheckGemm<float>(33, 17, 65, ta, tb, strided);
        CheckGemm<double>(9, 1, 4, ta, tb, strided);
        CheckGemm<double>(1, 13, 6, ta, tb, strided);
      }
}

TEST(Dot, LeNetAndMlpShapes) {
  CheckGemm<float>(100, 512, 784, false, true, false);  // fc forward: x W^T
  CheckGemm<float>(512, 784, 100, true, false, false);  // weight gradient: g^T x
  CheckGemm<float>(32, 576, 25, false, false, false);   // conv1 as im2col gemm
}

template <typename DType>
void CheckGemv(index_t m, index_t n, bool trans) {
  auto a = test::RandomTensor<2, DType>(Shape2(m, n), 4);
  test::Strided<2, DType> sa(a.view());
  const index_t in = trans ? m : n, out = trans ? n : m;
  auto x = test::RandomTensor<1, DType>(Shape1(in), 5);
  TensorContainer<cpu, 1, DType> y1(Shape1(out)), y2(Shape1(out), DType(1));
  if (trans) {
    y1 = dot(sa.view.T(), x.view());
    y2 += dot(x.view(), sa.view) * DType(3);  // x^T A == A^T x
  } else {
    y1 = dot(sa.view, x.view());
    y2 += dot(x.view(), sa.view.T()) * DType(3);  // x^T A^T == A x
  }
  for (index_t i = 0; i < out; ++i) {
    double s = 0;
    for (index_t p = 0; p < in; ++p)
      s += double(trans ? At(a.view(), p, i) : At(a.view(), i, p)) * x.dptr_[p];
    ASSERT_NEAR(y1.dptr_[i], s, 1e-4 * (1 + std::fabs(s)));
    ASSERT_NEAR(y2.dptr_[i], 1 + 3 * s, 1e-4 * (1 + std::fabs(s)));
  }
}

TEST(Dot, Gemv) {
  for (bool t : {false, true}) {
    CheckGemv<float>(7, 9, t);
    CheckGemv<float>(1, 31, t);
    CheckGemv<double>(64, 3, t);
  }
}

TEST(Dot, OuterProduct) {
  auto x = test::RandomTensor(Shape1(4), 6), y = test::RandomTensor(Shape1(6), 7);
  TensorContainer<cpu, 2> o(Shape2(4, 6), 1.f);
  o -= dot(x.view().T(), y.view());
  for (index_t i = 0; i < 4; ++i)
    for (index_t j = 0; j < 6; ++j)
      ASSERT_NEAR(At(o.view(), i, j), 1 - x.dptr_[i] * y.dptr_[j], 1e-6);
}

TEST(Dot, EmptyInnerDimensionGivesZeros) {
  TensorContainer<cpu, 2> a(Shape2(3, 0)), b(Shape2(0, 2)), c(Shape2(3, 2), 5.f);
  c = dot(a.view(), b.view());
  for (index_t i = 0; i < 6; ++i) EXPECT_EQ(c.dptr_[i], 0.f);
}

TEST(Dot, ShapeMismatchNamesShapes) {
  TensorContainer<cpu, 2> a(Shape2(3, 4), 0.f), b(Shape2(5, 2), 0.f), c(Shape2(3, 2));
  try {
    c = dot(a.view(), b.view());
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(3,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(5,2)"), std::string::npos) << m;
  }
  TensorContainer<cpu, 1> x(Shape1(3), 0.f), y(Shape1(3));
  EXPECT_THROW(y = dot(a.view(), x.view()), Error);
}

// BLAS writes the destination while it reads the operands: a = dot(a, b) gave zeros, unsaid.
// Column blocks of one matrix side by side share no element, and stay allowed.
TEST(Dot, ADestinationSharingAnOperandIsAnError) {
  TensorContainer<cpu, 2> a(Shape2(2, 2), 1.f), b(Shape2(2, 2), 1.f), wide(Shape2(2, 6), 1.f);
  TensorContainer<cpu, 1> x(Shape1(2), 1.f);
  EXPECT_HAS(test::ErrorOf([&] { a = dot(a.view(), b.view()); }), "dot: the destination (2,2) shares memory");
  EXPECT_HAS(test::ErrorOf([&] { b = dot(a.view(), b.view().T()); }), "shares memory");
  EXPECT_HAS(test::ErrorOf([&] { x = dot(a.view(), x.view()); }), "shares memory");
  Tensor<cpu, 2> left = wide.view(), mid = wide.view(), right = wide.view();
  left.shape_ = mid.shape_ = right.shape_ = Shape2(2, 2);
  mid.dptr_ += 2, right.dptr_ += 4;
  right = dot(left, mid);  // three column blocks of one matrix
  EXPECT_EQ(right.dptr_[0], 2.f);
  EXPECT_HAS(test::ErrorOf([&] { Tensor<cpu, 2> over = mid; over.dptr_ -= 1; over = dot(left, mid); }), "shares memory");
}

// BLAS takes sizes and strides as int: a row stride past 2^31 - 1 (a view into a huge buffer)
// is an error naming the product, before BLAS would read a wrapped stride. The views here are
// never read: the check comes first.
TEST(Dot, SizesPastIntAreAnError) {
  TensorContainer<cpu, 2> a(Shape2(2, 2), 1.f), b(Shape2(2, 2), 1.f), c(Shape2(2, 2));
  TensorContainer<cpu, 1> x(Shape1(2), 1.f), y(Shape1(2));
  Tensor<cpu, 2> wide = a.view();
  wide.stride_ = index_t(INT_MAX) + 1;
  EXPECT_HAS(test::ErrorOf([&] { c = dot(wide, b.view()); }),
             "dot: a (2 x 2) by (2 x 2) product (row strides 2147483648, 2, 2) has a size past 2^31 - 1");
  EXPECT_HAS(test::ErrorOf([&] { y = dot(wide, x.view()); }), "beyond the 32-bit sizes BLAS takes");
  EXPECT_HAS(test::ErrorOf([&] { c = dot(a.view(), b.view()); }), "no error");
}

}  // namespace
}  // namespace umbra
