// mirror against a plain loop: 1-, 2- and 4-D, odd widths, strided sources and destinations,
// mirror of mirror, composition with slice and elementwise ops, and a shape-mismatch error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/mirror.h"
#include "umbra/tensor/ext/slice.h"

namespace umbra {
namespace {
using test::At;

template <int N>
void ExpectMirrored(const Tensor<cpu, N>& out, const Tensor<cpu, N>& src) {
  ASSERT_EQ(out.shape_, src.shape_);
  const Shape<2> s = src.shape_.FlatTo2D();
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x)
      ASSERT_EQ(out.dptr_[y * out.stride_ + x], src.dptr_[y * src.stride_ + s[1] - 1 - x]);
}

TEST(Mirror, Ranks) {
  for (index_t w : {1, 2, 7, 17}) {
    auto v = test::RandomTensor(Shape1(w), 1);
    TensorContainer<cpu, 1> o1;
    o1 = mirror(v.view());
    ExpectMirrored(o1.view(), v.view());
    auto m = test::RandomTensor(Shape2(3, w), 2);
    auto e = mirror(m.view());
    static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
    TensorContainer<cpu, 2> o2;
    o2 = e;
    ExpectMirrored(o2.view(), m.view());
    auto x = test::RandomTensor(Shape4(2, 3, 5, w), 3);
    TensorContainer<cpu, 4> o4;
    o4 = mirror(x.view());
    ExpectMirrored(o4.view(), x.view());
  }
}

TEST(Mirror, StridedSourceAndDestination) {
  auto x = test::RandomTensor(Shape3(3, 4, 7), 4);
  test::Strided<3, float> s(x.view());
  TensorContainer<cpu, 3> base(Shape3(3, 4, 11), 0.f);
  Tensor<cpu, 3> dst = base.SliceLast(3, 10);
  dst = mirror(s.view);
  ExpectMirrored(dst, x.view());
  for (index_t r = 0; r < 12; ++r) EXPECT_EQ(base.dptr_[r * 11 + 10], 0.f);
}

TEST(Mirror, Composition) {
  auto x = test::RandomTensor(Shape3(2, 5, 6), 5);
  TensorContainer<cpu, 3> back(x.shape_);
  back = mirror(mirror(x.view()));
  EXPECT_TRUE(test::AllNear(back.view(), x.view(), 0));
  TensorContainer<cpu, 3> out(Shape3(2, 3, 6));
  out = mirror(slice<1>(x.view(), 1, 4)) * 2.f + slice<1>(x.view(), 0, 3);
  for (index_t a = 0; a < 2; ++a)
    for (index_t b = 0; b < 3; ++b)
      for (index_t c = 0; c < 6; ++c)
        EXPECT_FLOAT_EQ(At(out.view(), a, b, c),
                        2 * At(x.view(), a, b + 1, 5 - c) + At(x.view(), a, b, c));
}

TEST(Mirror, MismatchNamesShapes) {
  auto x = test::RandomTensor(Shape2(3, 4), 6);
  TensorContainer<cpu, 2> out(Shape2(3, 5));
  try {
    Tensor<cpu, 2> v = out;
    v = mirror(x.view()) + 1.f;
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(3,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(3,5)"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace umbra
