// unpack_patch2col / pack_col2patch against plain im2col / col2im loops for several (stride,
// pad, dilation) settings and odd sizes, the adjoint identity in double, a convolution done as
// dot(weight, col) against a direct loop, strided views, composition and error messages.
#include <vector>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/patch2col.h"

namespace umbra {
namespace {
using test::At;

// (N, C, H, W) with the kernel settings that exercise every branch of the gather.
struct Case {
  Shape<4> img;
  PatchParam p;
};
std::vector<Case> Cases() {
  return {
      {Shape4(1, 1, 1, 1), PatchParam{1, 1}},
      {Shape4(2, 3, 7, 5), PatchParam{3, 3}},
      {Shape4(2, 3, 7, 5), PatchParam{.kh = 3, .kw = 3, .ph = 1, .pw = 1}},
      {Shape4(1, 2, 17, 9), PatchParam{3, 3, 2, 2, 1, 1, 1, 1}},
      {Shape4(3, 1, 8, 7), PatchParam{2, 3, 2, 1, 2, 1, 1, 0}},
      {Shape4(1, 2, 9, 11), PatchParam{3, 2, 1, 3, 2, 2, 2, 1}},
      {Shape4(2, 2, 13, 10), PatchParam{3, 3, 3, 2, 2, 3, 2, 2}},
      {Shape4(1, 3, 4, 4), PatchParam{5, 5, 1, 1, 1, 1, 2, 2}},
  };
}

// im2col by definition, into a double matrix (C*kh*kw, N*oh*ow).
template <typename DType>
std::vector<double> RefUnpack(const Tensor<cpu, 4, DType>& x, const PatchParam& p) {
  const index_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const index_t oh = p.OutH(h), ow = p.OutW(w), cols = n * oh * ow;
  std::vector<double> out(c * p.kh * p.kw * cols, 0.0);
  for (index_t ci = 0; ci < c; ++ci)
    for (index_t ky = 0; ky < p.kh; ++ky)
      for (index_t kx = 0; kx < p.kw; ++kx)
        for (index_t ni = 0; ni < n; ++ni)
          for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
              const index_t yy = oy * p.sh - p.ph + ky * p.dh, xx = ox * p.sw - p.pw + kx * p.dw;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              out[((ci * p.kh + ky) * p.kw + kx) * cols + (ni * oh + oy) * ow + ox] =
                  At(x, ni, ci, yy, xx);
            }
  return out;
}

// col2im by scattering: every column entry is added to the pixel it was read from.
template <typename DType>
std::vector<double> RefPack(const Tensor<cpu, 2, DType>& col, const Shape<4>& s,
                            const PatchParam& p) {
  const index_t oh = p.OutH(s[2]), ow = p.OutW(s[3]);
  std::vector<double> img(s.Size(), 0.0);
  for (index_t ci = 0; ci < s[1]; ++ci)
    for (index_t ky = 0; ky < p.kh; ++ky)
      for (index_t kx = 0; kx < p.kw; ++kx)
        for (index_t ni = 0; ni < s[0]; ++ni)
          for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
              const index_t yy = oy * p.sh - p.ph + ky * p.dh, xx = ox * p.sw - p.pw + kx * p.dw;
              if (yy < 0 || yy >= s[2] || xx < 0 || xx >= s[3]) continue;
              img[((ni * s[1] + ci) * s[2] + yy) * s[3] + xx] +=
                  At(col, (ci * p.kh + ky) * p.kw + kx, (ni * oh + oy) * ow + ox);
            }
  return img;
}

using test::ExpectEqualsRef;

TEST(Patch2Col, UnpackMatchesReference) {
  uint64_t seed = 1;
  for (const Case& k : Cases()) {
    SCOPED_TRACE(::testing::Message() << k.img << " " << k.p);
    auto x = test::RandomTensor(k.img, seed++);
    TensorContainer<cpu, 2> col;
    col = unpack_patch2col(x.view(), k.p);
    ASSERT_EQ(col.shape_, Shape2(k.img[1] * k.p.kh * k.p.kw,
                                 k.img[0] * k.p.OutH(k.img[2]) * k.p.OutW(k.img[3])));
    ExpectEqualsRef(col.view(), RefUnpack(x.view(), k.p), 0);
  }
}

TEST(Patch2Col, ThreeDimImageIsBatchOfOne) {
  const PatchParam p{3, 2, 2, 1, 1, 2, 1, 1};
  auto x = test::RandomTensor(Shape3(3, 9, 7), 5);
  TensorContainer<cpu, 2> a, b;
  a = unpack_patch2col(x.view(), p);
  b = unpack_patch2col(x.view().View(Shape4(1, 3, 9, 7)), p);
  EXPECT_TRUE(test::AllNear(a.view(), b.view(), 0));
  TensorContainer<cpu, 3> back(Shape3(3, 9, 7));
  back = pack_col2patch(a.view(), back.shape_, p);
  ExpectEqualsRef(back.view(), RefPack(a.view(), Shape4(1, 3, 9, 7), p), 1e-5);
}

TEST(Patch2Col, StridedSourceComposedWithMaps) {
  const PatchParam p{3, 3, 2, 1, 1, 2, 1, 2};
  auto x = test::RandomTensor(Shape4(2, 3, 8, 9), 7);
  test::Strided<4, float> xs(x.view());
  TensorContainer<cpu, 4> relu(x.shape_);
  relu = F<op::relu>(x.view());
  TensorContainer<cpu, 2> col;
  col = unpack_patch2col(F<op::relu>(xs.view), p) * 2.f + 1.f;
  auto ref = RefUnpack(relu.view(), p);
  for (double& v : ref) v = 2 * v + 1;
  ExpectEqualsRef(col.view(), ref, 1e-6);
}

TEST(Patch2Col, PackMatchesReferenceIntoStridedDestination) {
  uint64_t seed = 100;
  for (const Case& k : Cases()) {
    SCOPED_TRACE(::testing::Message() << k.img << " " << k.p);
    const Shape<2> cs = Shape2(k.img[1] * k.p.kh * k.p.kw,
                               k.img[0] * k.p.OutH(k.img[2]) * k.p.OutW(k.img[3]));
    auto col = test::RandomTensor(cs, seed++);
    test::Strided<2, float> cols(col.view());
    Shape<4> big = k.img;
    big[3] += 4;
    TensorContainer<cpu, 4> base(big, 5.f);
    Tensor<cpu, 4> dst = base.SliceLast(2, 2 + k.img[3]);
    dst -= pack_col2patch(cols.view, k.img, k.p);
    auto ref = RefPack(col.view(), k.img, k.p);
    for (double& v : ref) v = 5 - v;
    ExpectEqualsRef(dst, ref, 1e-5);
    for (index_t r = 0; r < k.img.ProdShape(0, 3); ++r) {  // padding columns untouched
      EXPECT_EQ(base.dptr_[r * big[3] + 1], 5.f);
      EXPECT_EQ(base.dptr_[r * big[3] + 2 + k.img[3]], 5.f);
    }
  }
}

TEST(Patch2Col, AdjointIdentityInDouble) {
  uint64_t seed = 200;
  for (const Case& k : Cases()) {
    SCOPED_TRACE(::testing::Message() << k.img << " " << k.p);
    auto x = test::RandomTensor<4, double>(k.img, seed++);
    TensorContainer<cpu, 2, double> ux;
    ux = unpack_patch2col(x.view(), k.p);
    auto y = test::RandomTensor<2, double>(ux.shape_, seed++);
    TensorContainer<cpu, 4, double> py(k.img);
    py = pack_col2patch(y.view(), k.img, k.p);
    double lhs = 0, rhs = 0;
    for (index_t i = 0; i < ux.Size(); ++i) lhs += ux.dptr_[i] * y.dptr_[i];
    for (index_t i = 0; i < x.Size(); ++i) rhs += x.dptr_[i] * py.dptr_[i];
    EXPECT_NEAR(lhs, rhs, 1e-12 * (1 + std::fabs(lhs)));
  }
}

TEST(Patch2Col, ConvolutionAsDot) {
  // out[n, m, oy, ox] = sum_{c, ky, kx} w[m, c, ky, kx] * x[n, c, oy*s - p + ky*d, ...].
  const index_t n = 2, c = 3, h = 11, w = 9, m = 4;
  const PatchParam p{3, 3, 2, 1, 1, 2, 1, 2};
  const index_t oh = p.OutH(h), ow = p.OutW(w);
  auto x = test::RandomTensor(Shape4(n, c, h, w), 11);
  auto wt = test::RandomTensor(Shape2(m, c * p.kh * p.kw), 12);
  TensorContainer<cpu, 2> col;
  col = unpack_patch2col(x.view(), p);
  TensorContainer<cpu, 2> out(Shape2(m, n * oh * ow));
  out = dot(wt.view(), col.view());
  for (index_t mi = 0; mi < m; ++mi)
    for (index_t ni = 0; ni < n; ++ni)
      for (index_t oy = 0; oy < oh; ++oy)
        for (index_t ox = 0; ox < ow; ++ox) {
          double s = 0;
          for (index_t ci = 0; ci < c; ++ci)
            for (index_t ky = 0; ky < p.kh; ++ky)
              for (index_t kx = 0; kx < p.kw; ++kx) {
                const index_t yy = oy * p.sh - p.ph + ky * p.dh, xx = ox * p.sw - p.pw + kx * p.dw;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                s += double(At(wt.view(), mi, (ci * p.kh + ky) * p.kw + kx)) *
                     At(x.view(), ni, ci, yy, xx);
              }
          EXPECT_NEAR(At(out.view(), mi, (ni * oh + oy) * ow + ox), s, 1e-4);
        }
}

using test::ErrorOf;

TEST(Patch2Col, Errors) {
  TensorContainer<cpu, 4> x(Shape4(1, 2, 5, 5), 0.f);
  TensorContainer<cpu, 2> col(Shape2(18, 10), 0.f);  // (2*3*3, 9) would fit
  std::string msg = ErrorOf([&] { (void)pack_col2patch(col.view(), x.shape_, PatchParam{3, 3}); });
  EXPECT_NE(msg.find("(18,10)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(1,2,5,5)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(18,9)"), std::string::npos) << msg;
  msg = ErrorOf([&] { (void)unpack_patch2col(x.view(), PatchParam{3, 3, 1, 1, 3, 3}); });
  EXPECT_NE(msg.find("(1,2,5,5)"), std::string::npos) << msg;  // dilated kernel 7 > 5
  msg = ErrorOf([&] { (void)unpack_patch2col(x.view(), PatchParam{3, 3, 0, 1}); });
  EXPECT_NE(msg.find("stride 0x1"), std::string::npos) << msg;
  Tensor<cpu, 2> view = col.Slice(0, 17);  // a destination view of the wrong shape
  msg = ErrorOf([&] { view = unpack_patch2col(x.view(), PatchParam{3, 3}); });
  EXPECT_NE(msg.find("(18,9)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace umbra
