// concat<dim> against plain loops on every dimension, odd sizes, strided and expression
// operands, nesting, composition, write-through splitting, and the shape-mismatch error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/concat.h"

namespace umbra {
namespace {
using test::At;

/// out == a followed by b along dimension d (3-D).
void ExpectConcat3(const Tensor<cpu, 3>& out, const Tensor<cpu, 3>& a, const Tensor<cpu, 3>& b,
                   int d) {
  for (index_t i = 0; i < out.size(0); ++i)
    for (index_t j = 0; j < out.size(1); ++j)
      for (index_t k = 0; k < out.size(2); ++k) {
        index_t ix[3] = {i, j, k};
        const float want = ix[d] < a.size(d)
                               ? At(a, ix[0], ix[1], ix[2])
                               : (ix[d] -= a.size(d), At(b, ix[0], ix[1], ix[2]));
        ASSERT_EQ(At(out, i, j, k), want) << "dim " << d << " at " << i << "," << j << "," << k;
      }
}

template <int d>
void CheckDim(const Tensor<cpu, 3>& a, const Tensor<cpu, 3>& b) {
  auto e = concat<d>(a, b);
  static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
  TensorContainer<cpu, 3> out;
  out = e;
  Shape<3> want = a.shape_;
  want[d] += b.shape_[d];
  ASSERT_EQ(out.shape_, want);
  ExpectConcat3(out.view(), a, b, d);
}

TEST(Concat, EveryDimension) {
  auto a = test::RandomTensor(Shape3(3, 5, 7), 1);
  auto b0 = test::RandomTensor(Shape3(1, 5, 7), 2);
  auto b1 = test::RandomTensor(Shape3(3, 17, 7), 3);
  auto b2 = test::RandomTensor(Shape3(3, 5, 2), 4);
  CheckDim<0>(a.view(), b0.view());
  CheckDim<0>(b0.view(), a.view());
  CheckDim<1>(a.view(), b1.view());
  CheckDim<2>(a.view(), b2.view());
  test::Strided<3, float> sa(a.view()), sb(b1.view());
  CheckDim<1>(sa.view, sb.view);
  CheckDim<2>(b2.view(), sa.view);
}

TEST(Concat, NestedAndComposed) {
  auto a = test::RandomTensor(Shape2(3, 2), 5);
  auto b = test::RandomTensor(Shape2(3, 1), 6);
  auto c = test::RandomTensor(Shape2(3, 4), 7);
  TensorContainer<cpu, 2> out(Shape2(3, 7));
  out = concat<1>(concat<1>(a.view(), b.view()) * 2.f, c.view()) + 1.f;
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 7; ++j) {
      const float want = j < 2   ? 2 * At(a.view(), i, j) + 1
                         : j < 3 ? 2 * At(b.view(), i, 0) + 1
                                 : At(c.view(), i, j - 3) + 1;
      EXPECT_FLOAT_EQ(At(out.view(), i, j), want);
    }
  TensorContainer<cpu, 2> rows(Shape2(9, 2));
  out.Resize(Shape2(3, 2));
  rows = concat<0>(a.view(), concat<0>(a.view() * 2.f, a.view() - 1.f));
  for (index_t i = 0; i < 9; ++i)
    for (index_t j = 0; j < 2; ++j) {
      const float v = At(a.view(), i % 3, j);
      EXPECT_FLOAT_EQ(At(rows.view(), i, j), i < 3 ? v : i < 6 ? 2 * v : v - 1);
    }
}

TEST(Concat, WriteThroughSplits) {
  auto c = test::RandomTensor(Shape3(2, 7, 3), 8);
  TensorContainer<cpu, 3> a(Shape3(2, 3, 3), 0.f), b(Shape3(2, 4, 3), 0.f);
  static_assert(expr::kWritable<decltype(concat<1>(a.view(), b.view()))>);
  static_assert(!expr::kWritable<decltype(concat<1>(a.view() * 1.f, b.view()))>);
  concat<1>(a.view(), b.view()) = c.view();
  concat<1>(a.view(), b.view()) += c.view() * 2.f;
  for (index_t i = 0; i < 2; ++i)
    for (index_t j = 0; j < 7; ++j)
      for (index_t k = 0; k < 3; ++k) {
        const float got = j < 3 ? At(a.view(), i, j, k) : At(b.view(), i, j - 3, k);
        EXPECT_FLOAT_EQ(got, 3 * At(c.view(), i, j, k));
      }
  // Three-way split, last dimension, into strided targets; concat = concat of the same type.
  auto src = test::RandomTensor(Shape2(4, 9), 9);
  TensorContainer<cpu, 2> base(Shape2(4, 12), 0.f);
  Tensor<cpu, 2> p = base.SliceLast(0, 2), q = base.SliceLast(3, 7), r = base.SliceLast(8, 11);
  concat<1>(concat<1>(p, q), r) = src.view();
  TensorContainer<cpu, 2> back(Shape2(4, 9));
  concat<1>(concat<1>(back.SliceLast(0, 2), back.SliceLast(2, 6)), back.SliceLast(6, 9)) =
      concat<1>(concat<1>(p, q), r);
  EXPECT_TRUE(test::AllNear(back.view(), src.view(), 0));
  for (index_t i = 0; i < 4; ++i) {
    EXPECT_EQ(At(base.view(), i, 2), 0.f);
    EXPECT_EQ(At(base.view(), i, 7), 0.f);
    EXPECT_EQ(At(base.view(), i, 11), 0.f);
  }
}

TEST(Concat, MismatchNamesBothShapes) {
  TensorContainer<cpu, 3> a(Shape3(2, 3, 4), 0.f), b(Shape3(2, 5, 6), 0.f);
  try {
    concat<1>(a.view(), b.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(2,3,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,5,6)"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace umbra
