// slice<dim> against plain loops on every dimension of a 4-D source, strided sources, expression
// sources, composition, write-through (=, +=, scalar, slice-to-slice, nested, strided targets)
// and the out-of-range error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/slice.h"

namespace umbra {
namespace {
using test::At;

/// out == src[.., begin:, ..] along dimension d of a 4-D tensor.
void ExpectSlice4(const Tensor<cpu, 4>& out, const Tensor<cpu, 4>& src, int d, index_t begin) {
  for (index_t a = 0; a < out.size(0); ++a)
    for (index_t b = 0; b < out.size(1); ++b)
      for (index_t c = 0; c < out.size(2); ++c)
        for (index_t e = 0; e < out.size(3); ++e) {
          index_t i[4] = {a, b, c, e};
          i[d] += begin;
          ASSERT_EQ(At(out, a, b, c, e), At(src, i[0], i[1], i[2], i[3])) << "dim " << d;
        }
}

template <int d>
void CheckDim(const Tensor<cpu, 4>& src, index_t begin, index_t end) {
  auto e = slice<d>(src, begin, end);
  static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
  TensorContainer<cpu, 4> out;
  out = e;
  Shape<4> want = src.shape_;
  want[d] = end - begin;
  ASSERT_EQ(out.shape_, want);
  ExpectSlice4(out.view(), src, d, begin);
}

TEST(Slice, EveryDimension) {
  auto x = test::RandomTensor(Shape4(3, 5, 7, 17), 1);
  CheckDim<0>(x.view(), 1, 3);
  CheckDim<1>(x.view(), 2, 5);
  CheckDim<1>(x.view(), 0, 1);
  CheckDim<2>(x.view(), 3, 7);
  CheckDim<3>(x.view(), 5, 16);
  CheckDim<2>(x.view(), 4, 4);  // empty
  test::Strided<4, float> s(x.view());
  CheckDim<0>(s.view, 2, 3);
  CheckDim<2>(s.view, 1, 6);
  CheckDim<3>(s.view, 0, 17);
}

TEST(Slice, OneDAndExpressionSource) {
  auto v = test::RandomTensor(Shape1(9), 2);
  TensorContainer<cpu, 1> o(Shape1(4));
  o = slice<0>(v.view(), 3, 7);
  for (index_t i = 0; i < 4; ++i) EXPECT_EQ(o.dptr_[i], v.dptr_[i + 3]);
  auto x = test::RandomTensor(Shape3(3, 6, 5), 3);
  auto e = slice<1>(x.view() * 2.f, 1, 4);
  static_assert(!expr::kWritable<decltype(e)>);
  TensorContainer<cpu, 3> out(Shape3(3, 3, 5));
  out = e + slice<1>(x.view(), 3, 6);
  for (index_t a = 0; a < 3; ++a)
    for (index_t b = 0; b < 3; ++b)
      for (index_t c = 0; c < 5; ++c)
        EXPECT_FLOAT_EQ(At(out.view(), a, b, c),
                        2 * At(x.view(), a, b + 1, c) + At(x.view(), a, b + 3, c));
}

TEST(Slice, WriteThrough) {
  auto x = test::RandomTensor(Shape3(4, 3, 5), 4);
  auto t = test::RandomTensor(Shape3(4, 7, 5), 5);
  TensorContainer<cpu, 3> before(t);
  static_assert(expr::kWritable<decltype(slice<1>(t.view(), 0, 1))>);
  slice<1>(t.view(), 2, 5) = x.view();
  slice<1>(t.view(), 2, 5) += x.view() * 2.f;
  slice<1>(t.view(), 6, 7) = 9.f;
  for (index_t a = 0; a < 4; ++a)
    for (index_t b = 0; b < 7; ++b)
      for (index_t c = 0; c < 5; ++c) {
        float want = At(before.view(), a, b, c);
        if (b >= 2 && b < 5) want = 3 * At(x.view(), a, b - 2, c);
        if (b == 6) want = 9.f;
        EXPECT_FLOAT_EQ(At(t.view(), a, b, c), want) << a << "," << b << "," << c;
      }
}

TEST(Slice, SliceToSliceNestedAndStrided) {
  auto t = test::RandomTensor(Shape2(5, 9), 6);
  TensorContainer<cpu, 2> before(t);
  // Same expression type on both sides: must copy values, not rebind the left view.
  slice<1>(t.view(), 0, 3) = slice<1>(t.view(), 6, 9);
  // A slice of a slice writes through both.
  slice<0>(slice<1>(t.view(), 3, 6), 1, 3) = 0.f;
  for (index_t i = 0; i < 5; ++i)
    for (index_t j = 0; j < 9; ++j) {
      float want = At(before.view(), i, j);
      if (j < 3) want = At(before.view(), i, j + 6);
      if (j >= 3 && j < 6 && i >= 1 && i < 3) want = 0.f;
      EXPECT_EQ(At(t.view(), i, j), want);
    }
  auto x = test::RandomTensor(Shape3(2, 4, 6), 7);
  test::Strided<3, float> s(x.view());
  slice<1>(s.view, 1, 3) *= scalar(2.f);
  for (index_t a = 0; a < 2; ++a)
    for (index_t b = 0; b < 4; ++b)
      for (index_t c = 0; c < 6; ++c)
        EXPECT_FLOAT_EQ(At(s.view, a, b, c), (b >= 1 && b < 3 ? 2 : 1) * At(x.view(), a, b, c));
  EXPECT_EQ(s.storage.dptr_[6], -777.f);  // padding untouched
}

TEST(Slice, OutOfRangeNamesShape) {
  TensorContainer<cpu, 3> t(Shape3(3, 5, 2), 0.f);
  for (auto [b, e] : {std::pair<index_t, index_t>{2, 9}, {-1, 2}, {4, 3}}) {
    try {
      slice<1>(t.view(), b, e);
      FAIL() << "no error";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("(3,5,2)"), std::string::npos) << err.what();
    }
  }
  try {
    slice<1>(t.view(), 0, 2) = t.view();
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("(3,2,2)"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace umbra
