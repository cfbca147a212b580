// crop against a plain loop: centred (even and odd margins) and explicit windows on 2-D and 4-D
// sources, strided sources and destinations, composition, and the window-does-not-fit errors.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/crop.h"

namespace umbra {
namespace {
using test::At;

void ExpectCrop(const Tensor<cpu, 4>& out, const Tensor<cpu, 4>& src, index_t sy, index_t sx) {
  for (index_t n = 0; n < out.size(0); ++n)
    for (index_t c = 0; c < out.size(1); ++c)
      for (index_t h = 0; h < out.size(2); ++h)
        for (index_t w = 0; w < out.size(3); ++w)
          ASSERT_EQ(At(out, n, c, h, w), At(src, n, c, h + sy, w + sx))
              << n << "," << c << "," << h << "," << w;
}

TEST(Crop, CentredAndExplicit) {
  auto x = test::RandomTensor(Shape4(2, 3, 7, 17), 1);
  struct Case { index_t oh, ow, sy, sx; };
  for (const Case& k : {Case{5, 15, 1, 1}, Case{4, 10, 1, 3}, Case{7, 17, 0, 0}, Case{1, 1, 3, 8},
                        Case{3, 3, 4, 14}}) {
    TensorContainer<cpu, 4> out;
    out = crop(x.view(), Shape2(k.oh, k.ow));  // centred: start = floor(margin / 2)
    ASSERT_EQ(out.shape_, Shape4(2, 3, k.oh, k.ow));
    ExpectCrop(out.view(), x.view(), (7 - k.oh) / 2, (17 - k.ow) / 2);
    auto e = crop(x.view(), Shape2(k.oh, k.ow), k.sy, k.sx);
    static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
    out = e;
    ExpectCrop(out.view(), x.view(), k.sy, k.sx);
  }
}

TEST(Crop, TwoD) {
  auto x = test::RandomTensor(Shape2(6, 5), 2);
  TensorContainer<cpu, 2> out;
  out = crop(x.view(), Shape2(3, 2), 2, 1);
  for (index_t h = 0; h < 3; ++h)
    for (index_t w = 0; w < 2; ++w) EXPECT_EQ(At(out.view(), h, w), At(x.view(), h + 2, w + 1));
}

TEST(Crop, StridedSourceDestinationAndComposition) {
  auto x = test::RandomTensor(Shape4(2, 1, 6, 7), 3);
  auto y = test::RandomTensor(Shape4(2, 1, 3, 4), 4);
  test::Strided<4, float> s(x.view());
  TensorContainer<cpu, 4> base(Shape4(2, 1, 3, 9), 0.f);
  Tensor<cpu, 4> dst = base.SliceLast(2, 6);  // (2, 1, 3, 4), stride 9
  dst = crop(s.view - 1.f, Shape2(3, 4), 2, 3) * y.view();
  for (index_t n = 0; n < 2; ++n)
    for (index_t h = 0; h < 3; ++h)
      for (index_t w = 0; w < 4; ++w)
        EXPECT_FLOAT_EQ(At(dst, n, 0, h, w),
                        (At(x.view(), n, 0, h + 2, w + 3) - 1) * At(y.view(), n, 0, h, w));
  for (index_t r = 0; r < 6; ++r) EXPECT_EQ(base.dptr_[r * 9 + 1], 0.f);
}

TEST(Crop, WindowOutsideNamesShapes) {
  TensorContainer<cpu, 4> x(Shape4(1, 2, 5, 6), 0.f);
  auto expect_error = [](auto fn) {
    try {
      fn();
      FAIL() << "no error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("(1,2,5,6)"), std::string::npos) << m;
      EXPECT_NE(m.find("(4,7)"), std::string::npos) << m;
    }
  };
  expect_error([&] { crop(x.view(), Shape2(4, 7)); });
  expect_error([&] { crop(x.view(), Shape2(4, 7), 0, 0); });
  try {
    crop(x.view(), Shape2(4, 4), 2, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(1,2,5,6)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace umbra
