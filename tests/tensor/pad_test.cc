// pad against a plain loop: 2-D and 4-D sources, symmetric and per-axis pads, strided sources
// and destinations, composition (with crop and elementwise ops), and the negative-pad error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/crop.h"
#include "umbra/tensor/ext/pad.h"

namespace umbra {
namespace {
using test::At;

/// out == src (N, C, H, W) with py zero rows and px zero columns on each side.
void ExpectPadded(const Tensor<cpu, 4>& out, const Tensor<cpu, 4>& src, index_t py, index_t px,
                  float border = 0.f) {
  ASSERT_EQ(out.shape_, Shape4(src.size(0), src.size(1), src.size(2) + 2 * py,
                               src.size(3) + 2 * px));
  for (index_t n = 0; n < out.size(0); ++n)
    for (index_t c = 0; c < out.size(1); ++c)
      for (index_t h = 0; h < out.size(2); ++h)
        for (index_t w = 0; w < out.size(3); ++w) {
          const index_t sh = h - py, sw = w - px;
          const bool in = sh >= 0 && sh < src.size(2) && sw >= 0 && sw < src.size(3);
          ASSERT_EQ(At(out, n, c, h, w), in ? At(src, n, c, sh, sw) : border)
              << n << "," << c << "," << h << "," << w;
        }
}

TEST(Pad, FourD) {
  auto x = test::RandomTensor(Shape4(2, 3, 5, 7), 1);
  for (auto [py, px] : {std::pair<index_t, index_t>{1, 1}, {2, 0}, {0, 3}, {0, 0}, {3, 1}}) {
    auto e = pad(x.view(), py, px);
    static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
    TensorContainer<cpu, 4> out;
    out = e;
    ExpectPadded(out.view(), x.view(), py, px);
  }
  auto one = test::RandomTensor(Shape4(1, 1, 1, 1), 2);
  TensorContainer<cpu, 4> out;
  out = pad(one.view(), 2);
  ExpectPadded(out.view(), one.view(), 2, 2);
}

TEST(Pad, TwoDAndThreeD) {
  auto x = test::RandomTensor(Shape2(3, 17), 3);
  TensorContainer<cpu, 2> out;
  out = pad(x.view(), 1, 2);
  ASSERT_EQ(out.shape_, Shape2(5, 21));
  for (index_t h = 0; h < 5; ++h)
    for (index_t w = 0; w < 21; ++w) {
      const bool in = h >= 1 && h < 4 && w >= 2 && w < 19;
      EXPECT_EQ(At(out.view(), h, w), in ? At(x.view(), h - 1, w - 2) : 0.f);
    }
  auto y = test::RandomTensor(Shape3(3, 2, 4), 4);
  TensorContainer<cpu, 3> o3;
  o3 = pad(y.view(), 1);
  for (index_t c = 0; c < 3; ++c)
    for (index_t h = 0; h < 4; ++h)
      for (index_t w = 0; w < 6; ++w) {
        const bool in = h >= 1 && h < 3 && w >= 1 && w < 5;
        EXPECT_EQ(At(o3.view(), c, h, w), in ? At(y.view(), c, h - 1, w - 1) : 0.f);
      }
}

TEST(Pad, StridedSourceDestinationAndComposition) {
  auto x = test::RandomTensor(Shape4(2, 3, 4, 5), 5);
  test::Strided<4, float> s(x.view());
  TensorContainer<cpu, 4> base(Shape4(2, 3, 6, 10), 0.f);
  Tensor<cpu, 4> dst = base.SliceLast(1, 8);  // (2, 3, 6, 7), stride 10
  dst = pad(s.view * 2.f, 1) + 1.f;
  TensorContainer<cpu, 4> twice(x.shape_);
  twice = x.view() * 2.f + 1.f;
  ExpectPadded(dst, twice.view(), 1, 1, 1.f);
  for (index_t r = 0; r < 36; ++r) EXPECT_EQ(base.dptr_[r * 10 + 9], 0.f);
  // crop is the inverse.
  TensorContainer<cpu, 4> back(x.shape_);
  back = crop(pad(s.view, 2, 3), Shape2(4, 5));
  EXPECT_TRUE(test::AllNear(back.view(), x.view(), 0));
}

TEST(Pad, NegativePadNamesShape) {
  TensorContainer<cpu, 3> x(Shape3(2, 3, 4), 0.f);
  try {
    pad(x.view(), -1, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2,3,4)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace umbra
