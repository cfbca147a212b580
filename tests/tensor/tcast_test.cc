// tcast between float, double and int against static_cast loops: the flat fast path is kept for
// contiguous operands (and left for strided ones), composition with elementwise and index-mapping
// expressions of either type, and a shape-mismatch error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/mirror.h"
#include "umbra/tensor/ext/tcast.h"

namespace umbra {
namespace {
using test::At;

template <typename To, typename From>
void ExpectCast(const Tensor<cpu, 2, To>& out, const Tensor<cpu, 2, From>& src) {
  ASSERT_EQ(out.shape_, src.shape_);
  for (index_t i = 0; i < src.size(0); ++i)
    for (index_t j = 0; j < src.size(1); ++j)
      ASSERT_EQ(At(out, i, j), static_cast<To>(At(src, i, j))) << i << "," << j;
}

TEST(Tcast, FloatDoubleInt) {
  for (index_t rows : {1, 3, 17}) {
    for (index_t cols : {1, 7}) {
      auto f = test::RandomTensor(Shape2(rows, cols), 1, -50.f, 50.f);
      auto d = test::RandomTensor(Shape2(rows, cols), 2, -50.0, 50.0);
      TensorContainer<cpu, 2, double> fd(f.shape_);
      TensorContainer<cpu, 2, float> df(f.shape_);
      TensorContainer<cpu, 2, int> fi(f.shape_), di(f.shape_);
      fd = tcast<double>(f.view());
      df = tcast<float>(d.view());
      fi = tcast<int>(f.view());
      di = tcast<int>(d.view());
      ExpectCast(fd.view(), f.view());
      ExpectCast(df.view(), d.view());
      ExpectCast(fi.view(), f.view());
      ExpectCast(di.view(), d.view());
      TensorContainer<cpu, 2, float> iff(f.shape_);
      TensorContainer<cpu, 2, double> id(f.shape_);
      iff = tcast<float>(fi.view());
      id = tcast<double>(fi.view());
      ExpectCast(iff.view(), fi.view());
      ExpectCast(id.view(), fi.view());
    }
  }
}

TEST(Tcast, KnownValuesTruncateTowardZero) {
  float v[4] = {2.7f, -2.7f, 0.5f, -0.5f};
  Tensor<cpu, 1> f(v, Shape1(4));
  TensorContainer<cpu, 1, int> i(Shape1(4));
  i = tcast<int>(f);
  EXPECT_EQ(i.dptr_[0], 2);
  EXPECT_EQ(i.dptr_[1], -2);
  EXPECT_EQ(i.dptr_[2], 0);
  EXPECT_EQ(i.dptr_[3], 0);
}

TEST(Tcast, FlatPathAndStrided) {
  auto f = test::RandomTensor(Shape2(5, 9), 3);
  test::Strided<2, float> s(f.view());
  auto e = tcast<double>(f.view() * 2.f);
  static_assert(decltype(e)::kFlat);
  static_assert(std::is_same_v<decltype(e)::DataType, double>);
  static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
  EXPECT_TRUE(expr::FlatCheck<decltype(e)>::Check(e));
  auto g = tcast<double>(s.view * 2.f);
  EXPECT_FALSE(expr::FlatCheck<decltype(g)>::Check(g));
  static_assert(!decltype(tcast<double>(mirror(f.view())))::kFlat);
  // Strided destination too; both paths agree with the reference.
  TensorContainer<cpu, 2, double> base(Shape2(5, 12), 0.0);
  Tensor<cpu, 2, double> dst = base.SliceLast(1, 10);
  dst = g;
  TensorContainer<cpu, 2, double> flat(f.shape_);
  flat = e;
  for (index_t i = 0; i < 5; ++i)
    for (index_t j = 0; j < 9; ++j) {
      const double want = static_cast<double>(At(f.view(), i, j) * 2.f);
      EXPECT_EQ(At(dst, i, j), want);
      EXPECT_EQ(At(flat.view(), i, j), want);
    }
  for (index_t i = 0; i < 5; ++i) EXPECT_EQ(At(base.view(), i, 0), 0.0);
}

TEST(Tcast, Composition) {
  auto f = test::RandomTensor(Shape2(4, 6), 4, -5.f, 5.f);
  auto d = test::RandomTensor<2, double>(Shape2(4, 6), 5);
  TensorContainer<cpu, 2, double> out(f.shape_);
  // Elementwise ops on both sides of the cast, an index mapping inside, a cast of a cast.
  out = tcast<double>(mirror(f.view()) + 1.f) * 2.0 + d.view() -
        tcast<double>(tcast<int>(f.view()));
  for (index_t i = 0; i < 4; ++i)
    for (index_t j = 0; j < 6; ++j) {
      const double want = double(At(f.view(), i, 5 - j) + 1.f) * 2.0 + At(d.view(), i, j) -
                          double(int(At(f.view(), i, j)));
      EXPECT_DOUBLE_EQ(At(out.view(), i, j), want);
    }
}

TEST(Tcast, MismatchNamesShapes) {
  auto f = test::RandomTensor(Shape2(3, 4), 6);
  TensorContainer<cpu, 2, double> d(Shape2(4, 3), 0.0);
  try {
    Tensor<cpu, 2, double> v = d;
    v = tcast<double>(f.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(3,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4,3)"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace umbra
