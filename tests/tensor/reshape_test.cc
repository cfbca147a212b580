// reshape against a plain flat-order loop: contiguous and strided sources and destinations,
// expression sources, the flat fast path, composition and the size-mismatch error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/reshape.h"

namespace umbra {
namespace {

/// Element with logical flat index i (row-major over the shape) of a cpu tensor of any stride.
template <int N, typename DType>
DType FlatAt(const Tensor<cpu, N, DType>& t, index_t i) {
  const index_t cols = t.shape_[N - 1];
  return t.dptr_[(i / cols) * t.stride_ + i % cols];
}

template <int N, int M>
void ExpectReshapeOf(const Tensor<cpu, N>& src, const Shape<M>& to) {
  TensorContainer<cpu, M> out(to);
  out = reshape(src, to);
  for (index_t i = 0; i < to.Size(); ++i)
    ASSERT_EQ(FlatAt(out.view(), i), FlatAt(src, i)) << "flat " << i << " to " << to;
}

TEST(Reshape, ContiguousManyShapes) {
  auto a = test::RandomTensor(Shape3(3, 5, 7), 1);
  ExpectReshapeOf(a.view(), Shape2(15, 7));
  ExpectReshapeOf(a.view(), Shape2(7, 15));
  ExpectReshapeOf(a.view(), Shape1(105));
  ExpectReshapeOf(a.view(), Shape4(1, 105, 1, 1));
  ExpectReshapeOf(a.view(), Shape3(5, 3, 7));
  auto one = test::RandomTensor(Shape1(1), 2);
  ExpectReshapeOf(one.view(), Shape3(1, 1, 1));
}

TEST(Reshape, StridedSource) {
  auto a = test::RandomTensor(Shape3(3, 4, 17), 3);
  test::Strided<3, float> s(a.view());
  ExpectReshapeOf(s.view, Shape2(17, 12));
  ExpectReshapeOf(s.view, Shape1(204));
  ExpectReshapeOf(s.view, Shape2(12, 17));
}

TEST(Reshape, StridedDestinationAndComposition) {
  auto a = test::RandomTensor(Shape2(6, 7), 4);
  auto b = test::RandomTensor(Shape3(3, 2, 7), 5);
  TensorContainer<cpu, 3> base(Shape3(3, 2, 10), 0.f);
  Tensor<cpu, 3> dst = base.SliceLast(1, 8);  // (3, 2, 7), stride 10
  dst = reshape(a.view() * 2.f, dst.shape_) + b.view();
  for (index_t i = 0; i < 42; ++i)
    EXPECT_FLOAT_EQ(FlatAt(dst, i), 2 * FlatAt(a.view(), i) + FlatAt(b.view(), i));
  for (index_t r = 0; r < 6; ++r) {
    EXPECT_EQ(base.dptr_[r * 10], 0.f);
    EXPECT_EQ(base.dptr_[r * 10 + 8], 0.f);
  }
}

TEST(Reshape, KeepsFlatPathOnlyForContiguousElementwise) {
  auto a = test::RandomTensor(Shape2(4, 6), 6);
  test::Strided<2, float> s(a.view());
  auto e = reshape(a.view() + 1.f, Shape3(2, 3, 4));
  static_assert(decltype(e)::kFlat);
  static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
  EXPECT_TRUE(expr::FlatCheck<decltype(e)>::Check(e));
  auto f = reshape(s.view, Shape1(24));
  EXPECT_FALSE(expr::FlatCheck<decltype(f)>::Check(f));
  // Both paths give the same values.
  TensorContainer<cpu, 3> o1(Shape3(2, 3, 4));
  TensorContainer<cpu, 1> o2(Shape1(24));
  o1 = e;
  o2 = f + 1.f;
  for (index_t i = 0; i < 24; ++i) EXPECT_FLOAT_EQ(FlatAt(o1.view(), i), o2.dptr_[i]);
}

TEST(Reshape, ZeroSize) {
  TensorContainer<cpu, 2> a(Shape2(0, 5));
  TensorContainer<cpu, 3> out(Shape3(5, 0, 2));
  out = reshape(a.view(), out.shape_);
  EXPECT_EQ(out.Size(), 0);
}

TEST(Reshape, SizeMismatchNamesBothShapes) {
  TensorContainer<cpu, 2> a(Shape2(2, 3), 0.f);
  try {
    reshape(a.view(), Shape2(4, 2));
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(2,3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4,2)"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace umbra
