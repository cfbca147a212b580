// crop(src, oshape) / crop(src, oshape, start_y, start_x): a window of the last two dimensions
// (H, W) of an N-D expression (N >= 2): (..., H, W) -> (..., oh, ow), centred or starting at
// (start_y, start_x). The inverse of pad (pad.h), e.g. to cut the padded border off a gradient.
// Not a copy; not write-through (for a writable window of a tensor use slice.h).
#pragma once

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename SrcExp, typename DType, int dim>
struct CroppingExp : public MakeTensorExp<CroppingExp<SrcExp, DType, dim>, SrcExp, dim, DType> {
  SrcExp src_;
  index_t start_y_, start_x_;
  /// Source height.
  index_t src_h_;
  CroppingExp(const SrcExp& src, const Shape<dim>& src_shape, const Shape<2>& oshape,
              index_t start_y, index_t start_x)
      : src_(src), start_y_(start_y), start_x_(start_x), src_h_(src_shape[dim - 2]) {
    this->shape_ = src_shape;
    this->shape_[dim - 2] = oshape[0];
    this->shape_[dim - 1] = oshape[1];
  }
};

/// crop(src, oshape, start_y, start_x): out[..., h, w] = src[..., start_y + h, start_x + w] for
/// src (..., H, W) and oshape (oh, ow). The window must lie inside (H, W), otherwise umbra::Error
/// naming the source shape, oshape and the start.
template <typename SrcExp, typename DType, int etype>
inline CroppingExp<SrcExp, DType, SrcExp::kDim> crop(const Exp<SrcExp, DType, etype>& src,
                                                     const Shape<2>& oshape, index_t start_y,
                                                     index_t start_x) {
  constexpr int n = SrcExp::kDim;
  static_assert(n >= 2, "umbra: crop works on the last two dimensions; the source needs >= 2");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  const Shape<n> s = ShapeCheck<n, SrcExp>::Check(src.self());
  UMBRA_CHECK(oshape[0] >= 0 && oshape[1] >= 0 && start_y >= 0 && start_x >= 0 &&
                  start_y + oshape[0] <= s[n - 2] && start_x + oshape[1] <= s[n - 1],
              "crop: window ", oshape, " at (", start_y, ", ", start_x,
              ") does not fit in the last two dimensions of ", s);
  return CroppingExp<SrcExp, DType, n>(src.self(), s, oshape, start_y, start_x);
}
/// crop(src, oshape): the centred window; an odd margin leaves the extra row/column at the end.
template <typename SrcExp, typename DType, int etype>
inline CroppingExp<SrcExp, DType, SrcExp::kDim> crop(const Exp<SrcExp, DType, etype>& src,
                                                     const Shape<2>& oshape) {
  constexpr int n = SrcExp::kDim;
  static_assert(n >= 2, "umbra: crop works on the last two dimensions; the source needs >= 2");
  const Shape<n> s = ShapeCheck<n, SrcExp>::Check(src.self());
  UMBRA_CHECK(oshape[0] >= 0 && oshape[1] >= 0 && oshape[0] <= s[n - 2] && oshape[1] <= s[n - 1],
              "crop: window ", oshape, " is larger than the last two dimensions of ", s);
  return crop(src, oshape, (s[n - 2] - oshape[0]) / 2, (s[n - 1] - oshape[1]) / 2);
}

template <typename SrcExp, typename DType, int dim>
class Plan<CroppingExp<SrcExp, DType, dim>> {
 public:
  explicit Plan(const CroppingExp<SrcExp, DType, dim>& e)
      : src_(MakePlan(e.src_)),
        start_y_(e.start_y_),
        start_x_(e.start_x_),
        src_h_(e.src_h_),
        dst_h_(e.shape_[dim - 2]),
        h_div_(dst_h_, e.shape_.ProdShape(0, dim - 1)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    // Row y of the 2-D view is (plane c, row h) with y = c * dst_h + h.
    const index_t c = h_div_.Div(y), h = y - c * dst_h_;
    return src_.Eval(c * src_h_ + start_y_ + h, start_x_ + x);
  }

 private:
  Plan<SrcExp> src_;
  index_t start_y_, start_x_, src_h_, dst_h_;
  cuda::IndexDiv h_div_;  // by dst_h_
};

}  // namespace umbra::expr

namespace umbra {
using expr::crop;
}  // namespace umbra
