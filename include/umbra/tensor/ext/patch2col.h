// unpack_patch2col / pack_col2patch: im2col and its adjoint col2im as index-mapping expressions,
// with stride, zero padding and dilation built in (mshadow's pair had padding done by a separate
// pad() and no dilation). A convolution is dot(weight (M, C*kh*kw), col) once col is evaluated.
// Not here: the convolution layer itself (src/nn/layers/), pooling (ext/pool.h).
// Both run through the generic CPU loop / CUDA kernel: col2im is written as a gather (each pixel
// sums the column entries that read it), so it needs no atomics and composes like any chainer.
#pragma once

#include <algorithm>
#include <ostream>
#include <type_traits>

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"

namespace umbra {

/// Geometry of a sliding kernel over the last two dims (H, W): kernel size (kh, kw), stride
/// (sh, sw), dilation (dh, dw: distance between taps, 1 = dense) and zero padding (ph, pw) added
/// on both sides. Aggregate: `PatchParam{3, 3}` or `PatchParam{.kh = 3, .kw = 3, .ph = 1, .pw = 1}`.
struct PatchParam {
  index_t kh = 1, kw = 1;
  index_t sh = 1, sw = 1;
  index_t dh = 1, dw = 1;
  index_t ph = 0, pw = 0;

  /// Output rows: (H + 2ph - dh*(kh-1) - 1) / sh + 1; meaningful only when the dilated kernel
  /// fits the padded image, which the builders check.
  index_t OutH(index_t h) const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  /// Output columns: (W + 2pw - dw*(kw-1) - 1) / sw + 1.
  index_t OutW(index_t w) const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }

  friend std::ostream& operator<<(std::ostream& os, const PatchParam& p) {
    return os << "{kernel " << p.kh << "x" << p.kw << ", stride " << p.sh << "x" << p.sw
              << ", dilation " << p.dh << "x" << p.dw << ", pad " << p.ph << "x" << p.pw << "}";
  }
};

namespace expr {

/// Image geometry (N, C, H, W) of a 3-D (C, H, W: N = 1) or 4-D shape, checked against a param.
template <int dim>
inline void PatchGeometry(const Shape<dim>& s, const PatchParam& p, const char* who,
                          index_t* n, index_t* c, index_t* h, index_t* w, index_t* oh,
                          index_t* ow) {
  static_assert(dim == 3 || dim == 4, "umbra: patch2col images are (C, H, W) or (N, C, H, W)");
  UMBRA_CHECK(p.kh >= 1 && p.kw >= 1 && p.sh >= 1 && p.sw >= 1 && p.dh >= 1 && p.dw >= 1 &&
                  p.ph >= 0 && p.pw >= 0,
              who, ": invalid patch parameters ", p);
  *n = dim == 4 ? s[0] : 1;
  *c = s[dim - 3], *h = s[dim - 2], *w = s[dim - 1];
  *oh = p.OutH(*h), *ow = p.OutW(*w);
  UMBRA_CHECK(*h + 2 * p.ph >= p.dh * (p.kh - 1) + 1 && *w + 2 * p.pw >= p.dw * (p.kw - 1) + 1,
              who, ": image ", s, " is smaller than the dilated kernel of ", p);
}

/// One axis of the col2im gather: the pairs (output o, tap t) with o*s + t*d == q, where q is
/// a padded input coordinate (pixel + pad, >= 0). When s == 1 or d > s it enumerates the k taps
/// (a division per tap only if s > 1); otherwise the (k-1)*d/s + 1 outputs whose window can
/// reach q (a division per candidate only if d > 1). Either way at most k candidates.
struct PatchAxis {
  index_t k, s, d, out;
  bool by_tap;
  cuda::IndexDiv s_div, d_div;  // by s and d; dividends below the padded extent plus s

  /// extent: the padded input's size along the axis (every q is below it).
  static PatchAxis Make(index_t k, index_t s, index_t d, index_t out, index_t extent) {
    return PatchAxis{k, s, d, out, s == 1 || d > s, cuda::IndexDiv(s, extent + s), cuda::IndexDiv(d, extent)};
  }
  UMBRA_XINLINE void Range(index_t q, index_t* lo, index_t* hi) const {
    if (by_tap) {
      *lo = 0, *hi = k - 1;
    } else {
      const index_t first = q - (k - 1) * d;  // the lowest o has the largest tap
      *lo = first > 0 ? s_div.Div(first + s - 1) : 0;
      const index_t last = s_div.Div(q);
      *hi = last < out - 1 ? last : out - 1;
    }
  }
  UMBRA_XINLINE bool Pair(index_t q, index_t i, index_t* o, index_t* t) const {
    if (by_tap) {
      const index_t r = q - i * d;
      if (r < 0) return false;
      *t = i, *o = s == 1 ? r : s_div.Div(r);
      return *o < out && *o * s == r;
    }
    const index_t r = q - i * s;  // in [0, (k-1)*d] by Range
    *o = i, *t = d == 1 ? r : d_div.Div(r);
    return *t * d == r;
  }
};

template <typename SrcExp, typename DType, int srcdim>
struct UnpackPatchToColExp
    : public MakeTensorExp<UnpackPatchToColExp<SrcExp, DType, srcdim>, SrcExp, 2, DType> {
  SrcExp img_;
  PatchParam p_;
  index_t c_, h_, w_, oh_, ow_;
  UnpackPatchToColExp(const SrcExp& img, const PatchParam& p) : img_(img), p_(p) {
    index_t n;
    PatchGeometry(ShapeCheck<srcdim, SrcExp>::Check(img), p, "unpack_patch2col", &n, &c_, &h_,
                  &w_, &oh_, &ow_);
    this->shape_ = Shape2(c_ * p.kh * p.kw, n * oh_ * ow_);
  }
};

/// im2col. img: (N, C, H, W) or (C, H, W), any expression. Result: (C*kh*kw, N*oh*ow) with
/// row (c*kh + ky)*kw + kx, column (n*oh + oy)*ow + ox, value img[n, c, oy*sh - ph + ky*dh,
/// ox*sw - pw + kx*dw], 0 where that tap falls in the padding. oh, ow: PatchParam::OutH/OutW.
/// Fails (umbra::Error naming the shape and param) on bad params or an image smaller than the
/// dilated kernel. A chainer: the destination must not alias img.
template <typename SrcExp, typename DType, int etype>
inline UnpackPatchToColExp<SrcExp, DType, SrcExp::kDim> unpack_patch2col(
    const Exp<SrcExp, DType, etype>& img, const PatchParam& p) {
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  return UnpackPatchToColExp<SrcExp, DType, SrcExp::kDim>(img.self(), p);
}

template <typename SrcExp, typename DType, int srcdim>
class Plan<UnpackPatchToColExp<SrcExp, DType, srcdim>> {
 public:
  explicit Plan(const UnpackPatchToColExp<SrcExp, DType, srcdim>& e)
      : src_(MakePlan(e.img_)), p_(e.p_), c_(e.c_), h_(e.h_), w_(e.w_), oh_(e.oh_), ow_(e.ow_),
        kw_div_(p_.kw, e.shape_[0]), kh_div_(p_.kh, e.shape_[0]), ow_div_(ow_, e.shape_[1]),
        oh_div_(oh_, e.shape_[1]) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    const index_t ky_c = kw_div_.Div(y), kx = y - ky_c * p_.kw;
    const index_t c = kh_div_.Div(ky_c), ky = ky_c - c * p_.kh;
    const index_t n_oy = ow_div_.Div(x), ox = x - n_oy * ow_;
    const index_t n = oh_div_.Div(n_oy), oy = n_oy - n * oh_;
    const index_t h = oy * p_.sh - p_.ph + ky * p_.dh;
    const index_t w = ox * p_.sw - p_.pw + kx * p_.dw;
    if (h < 0 || h >= h_ || w < 0 || w >= w_) return DType(0);
    return src_.Eval((n * c_ + c) * h_ + h, w);
  }

 private:
  Plan<SrcExp> src_;
  PatchParam p_;
  index_t c_, h_, w_, oh_, ow_;
  cuda::IndexDiv kw_div_, kh_div_, ow_div_, oh_div_;  // Eval's four divisions
};

template <typename SrcExp, typename DType, int dstdim>
struct PackColToPatchExp
    : public MakeTensorExp<PackColToPatchExp<SrcExp, DType, dstdim>, SrcExp, dstdim, DType> {
  SrcExp col_;
  PatchParam p_;
  index_t c_, h_, oh_, ow_;
  PackColToPatchExp(const SrcExp& col, const Shape<dstdim>& img_shape, const PatchParam& p)
      : col_(col), p_(p) {
    index_t n, w;
    PatchGeometry(img_shape, p, "pack_col2patch", &n, &c_, &h_, &w, &oh_, &ow_);
    const Shape<2> cs = ShapeCheck<2, SrcExp>::Check(col);
    const Shape<2> want = Shape2(c_ * p.kh * p.kw, n * oh_ * ow_);
    UMBRA_CHECK(cs == want, "pack_col2patch: column matrix ", cs, " does not fit image ",
                img_shape, " with ", p, ": expected ", want);
    this->shape_ = img_shape;
  }
};

/// col2im, the adjoint of unpack_patch2col: col (C*kh*kw, N*oh*ow) -> image of img_shape
/// ((N, C, H, W) or (C, H, W)); each pixel is the SUM of every column entry that read it, so
/// <unpack_patch2col(x), y> == <x, pack_col2patch(y)>. Evaluated as a gather: a pixel visits its
/// <= kh*kw taps. Fails when col's shape is not the one unpack_patch2col gives for img_shape.
template <typename SrcExp, typename DType, int etype, int dstdim>
inline PackColToPatchExp<SrcExp, DType, dstdim> pack_col2patch(const Exp<SrcExp, DType, etype>& col,
                                                               const Shape<dstdim>& img_shape,
                                                               const PatchParam& p) {
  static_assert(SrcExp::kDim == 2, "umbra: pack_col2patch takes a 2-D column matrix");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  return PackColToPatchExp<SrcExp, DType, dstdim>(col.self(), img_shape, p);
}

template <typename SrcExp, typename DType, int dstdim>
class Plan<PackColToPatchExp<SrcExp, DType, dstdim>> {
 public:
  explicit Plan(const PackColToPatchExp<SrcExp, DType, dstdim>& e)
      : src_(MakePlan(e.col_)),
        ay_(PatchAxis::Make(e.p_.kh, e.p_.sh, e.p_.dh, e.oh_, e.h_ + 2 * e.p_.ph)),
        ax_(PatchAxis::Make(e.p_.kw, e.p_.sw, e.p_.dw, e.ow_, e.shape_[dstdim - 1] + 2 * e.p_.pw)),
        ph_(e.p_.ph), pw_(e.p_.pw), c_(e.c_), h_(e.h_),
        h_div_(h_, e.shape_.ProdShape(0, dstdim - 1)), c_div_(c_, e.shape_.ProdShape(0, dstdim - 1)) {}
  // y = (n*C + c)*H + h, x = w. Napkin: kh*kw reads of col per pixel, the same traffic as im2col.
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    const index_t nc = h_div_.Div(y), h = y - nc * h_;
    const index_t n = c_div_.Div(nc), c = nc - n * c_;
    const index_t qy = h + ph_, qx = x + pw_;
    index_t ylo, yhi, xlo, xhi;
    ay_.Range(qy, &ylo, &yhi);
    ax_.Range(qx, &xlo, &xhi);
    DType sum = DType(0);
    for (index_t i = ylo; i <= yhi; ++i) {
      index_t oy, ky;
      if (!ay_.Pair(qy, i, &oy, &ky)) continue;
      const index_t row = (c * ay_.k + ky) * ax_.k, col = (n * ay_.out + oy) * ax_.out;
      for (index_t j = xlo; j <= xhi; ++j) {
        index_t ox, kx;
        if (ax_.Pair(qx, j, &ox, &kx)) sum += src_.Eval(row + kx, col + ox);
      }
    }
    return sum;
  }

 private:
  Plan<SrcExp> src_;
  PatchAxis ay_, ax_;
  index_t ph_, pw_, c_, h_;
  cuda::IndexDiv h_div_, c_div_;  // by h_ and c_
};

/// The outputs ox in [lo, hi) whose input column ox * s + x0 lies inside [0, w).
inline void ValidRange(index_t x0, index_t s, index_t w, index_t ow, index_t* lo, index_t* hi) {
  *lo = x0 >= 0 ? 0 : (-x0 + s - 1) / s;
  *hi = w - 1 - x0 < 0 ? 0 : std::min(ow, (w - 1 - x0) / s + 1);
  if (*lo > *hi) *lo = *hi;
}

/// CPU fast path of `col = unpack_patch2col(img, p)` for contiguous tensors: each column row
/// (c, ky, kx) is filled image row by image row with a stride loop and no index division.
/// Napkin: one read and one write per column element, the same traffic as the generic plan
/// without its ~5 integer divisions per element.
template <typename DType, int srcdim>
struct CPUFastPath<sv::saveto, Tensor<cpu, 2, DType>,
                   UnpackPatchToColExp<Tensor<cpu, srcdim, DType>, DType, srcdim>> {
  static bool Run(const Tensor<cpu, 2, DType>& dst,
                  const UnpackPatchToColExp<Tensor<cpu, srcdim, DType>, DType, srcdim>& e) {
    if (!dst.CheckContiguous() || !e.img_.CheckContiguous()) return false;
    const PatchParam& p = e.p_;
    const index_t n = srcdim == 4 ? e.img_.shape_[0] : 1, rows = e.c_ * p.kh * p.kw;
    const index_t oh = e.oh_, ow = e.ow_, h = e.h_, w = e.w_;
#pragma omp parallel for schedule(static) if (dst.Size() >= kParallelThreshold)
    for (index_t r = 0; r < rows; ++r) {
      const index_t c = r / (p.kh * p.kw), ky = (r / p.kw) % p.kh, kx = r % p.kw;
      DType* out = dst.dptr_ + r * dst.stride_;
      for (index_t b = 0; b < n; ++b) {
        const DType* plane = e.img_.dptr_ + (b * e.c_ + c) * h * w;
        for (index_t oy = 0; oy < oh; ++oy, out += ow) {
          const index_t iy = oy * p.sh - p.ph + ky * p.dh;
          if (iy < 0 || iy >= h) {
            for (index_t ox = 0; ox < ow; ++ox) out[ox] = DType(0);
            continue;
          }
          const DType* row = plane + iy * w;
          const index_t x0 = kx * p.dw - p.pw;
          index_t lo, hi;
          ValidRange(x0, p.sw, w, ow, &lo, &hi);
          for (index_t ox = 0; ox < lo; ++ox) out[ox] = DType(0);
          if (p.sw == 1) {
            for (index_t ox = lo; ox < hi; ++ox) out[ox] = row[ox + x0];  // a plain copy
          } else {
            for (index_t ox = lo; ox < hi; ++ox) out[ox] = row[ox * p.sw + x0];
          }
          for (index_t ox = hi; ox < ow; ++ox) out[ox] = DType(0);
        }
      }
    }
    return true;
  }
};

/// CPU fast path of `img SV= pack_col2patch(col, shape, p)` (= and +=) for contiguous tensors:
/// a scatter-add of every column entry into its pixel, parallel over (image, channel) planes so
/// that no two threads write the same pixel.
template <typename SV, typename DType, int dstdim>
  requires(std::is_same_v<SV, sv::saveto> || std::is_same_v<SV, sv::plusto>)
struct CPUFastPath<SV, Tensor<cpu, dstdim, DType>,
                   PackColToPatchExp<Tensor<cpu, 2, DType>, DType, dstdim>> {
  static bool Run(const Tensor<cpu, dstdim, DType>& dst,
                  const PackColToPatchExp<Tensor<cpu, 2, DType>, DType, dstdim>& e) {
    if (!dst.CheckContiguous() || !e.col_.CheckContiguous()) return false;
    const PatchParam& p = e.p_;
    const index_t n = dstdim == 4 ? dst.shape_[0] : 1, c = e.c_, h = e.h_, w = dst.shape_[dstdim - 1];
    const index_t oh = e.oh_, ow = e.ow_, ncol = e.col_.shape_[1];
#pragma omp parallel for schedule(static) if (dst.Size() >= kParallelThreshold)
    for (index_t plane = 0; plane < n * c; ++plane) {
      const index_t b = plane / c, ch = plane % c;
      DType* img = dst.dptr_ + plane * h * w;
      if constexpr (std::is_same_v<SV, sv::saveto>)
        for (index_t i = 0; i < h * w; ++i) img[i] = DType(0);
      for (index_t ky = 0; ky < p.kh; ++ky)
        for (index_t kx = 0; kx < p.kw; ++kx) {
          const DType* col = e.col_.dptr_ + ((ch * p.kh + ky) * p.kw + kx) * ncol + b * oh * ow;
          for (index_t oy = 0; oy < oh; ++oy) {
            const index_t iy = oy * p.sh - p.ph + ky * p.dh;
            if (iy < 0 || iy >= h) continue;
            DType* row = img + iy * w;
            const DType* src = col + oy * ow;
            const index_t x0 = kx * p.dw - p.pw;
            index_t lo, hi;
            ValidRange(x0, p.sw, w, ow, &lo, &hi);
            if (p.sw == 1) {
              for (index_t ox = lo; ox < hi; ++ox) row[ox + x0] += src[ox];
            } else {
              for (index_t ox = lo; ox < hi; ++ox) row[ox * p.sw + x0] += src[ox];
            }
          }
        }
    }
    return true;
  }
};

}  // namespace expr

using expr::pack_col2patch;
using expr::unpack_patch2col;

}  // namespace umbra
