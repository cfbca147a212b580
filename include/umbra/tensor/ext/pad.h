// pad(src, p) / pad(src, pad_y, pad_x): zero padding of the last two dimensions (H, W) of an
// N-D expression (N >= 2) on both sides: (..., H, W) -> (..., H + 2 pad_y, W + 2 pad_x), as a
// convolution or pooling layer pads its input. Not a copy; not write-through.
// The inverse (cutting the border off, e.g. for the gradient) is crop (crop.h).
#pragma once

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename SrcExp, typename DType, int dim>
struct PaddingExp : public MakeTensorExp<PaddingExp<SrcExp, DType, dim>, SrcExp, dim, DType> {
  SrcExp src_;
  index_t pad_y_, pad_x_;
  /// Source height and width.
  index_t src_h_, src_w_;
  PaddingExp(const SrcExp& src, const Shape<dim>& src_shape, index_t pad_y, index_t pad_x)
      : src_(src),
        pad_y_(pad_y),
        pad_x_(pad_x),
        src_h_(src_shape[dim - 2]),
        src_w_(src_shape[dim - 1]) {
    this->shape_ = src_shape;
    this->shape_[dim - 2] += 2 * pad_y;
    this->shape_[dim - 1] += 2 * pad_x;
  }
};

/// pad(src, pad_y, pad_x): src (..., H, W) with pad_y zero rows above and below and pad_x zero
/// columns left and right: (..., H + 2 pad_y, W + 2 pad_x). Negative pads raise umbra::Error
/// naming the source shape.
template <typename SrcExp, typename DType, int etype>
inline PaddingExp<SrcExp, DType, SrcExp::kDim> pad(const Exp<SrcExp, DType, etype>& src,
                                                   index_t pad_y, index_t pad_x) {
  constexpr int n = SrcExp::kDim;
  static_assert(n >= 2, "umbra: pad works on the last two dimensions; the source needs >= 2");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  const Shape<n> s = ShapeCheck<n, SrcExp>::Check(src.self());
  UMBRA_CHECK(pad_y >= 0 && pad_x >= 0, "pad(", pad_y, ", ", pad_x,
              "): negative padding for shape ", s);
  return PaddingExp<SrcExp, DType, n>(src.self(), s, pad_y, pad_x);
}
/// pad(src, p): the same padding p on all four sides.
template <typename SrcExp, typename DType, int etype>
inline PaddingExp<SrcExp, DType, SrcExp::kDim> pad(const Exp<SrcExp, DType, etype>& src,
                                                   index_t p) {
  return pad(src, p, p);
}

template <typename SrcExp, typename DType, int dim>
class Plan<PaddingExp<SrcExp, DType, dim>> {
 public:
  explicit Plan(const PaddingExp<SrcExp, DType, dim>& e)
      : src_(MakePlan(e.src_)),
        pad_y_(e.pad_y_),
        pad_x_(e.pad_x_),
        src_h_(e.src_h_),
        src_w_(e.src_w_),
        dst_h_(e.shape_[dim - 2]),
        h_div_(dst_h_, e.shape_.ProdShape(0, dim - 1)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    // Row y of the 2-D view is (plane c, row h) with y = c * dst_h + h.
    const index_t c = h_div_.Div(y);
    const index_t h = y - c * dst_h_ - pad_y_, w = x - pad_x_;
    if (h < 0 || h >= src_h_ || w < 0 || w >= src_w_) return DType(0);
    return src_.Eval(c * src_h_ + h, w);
  }

 private:
  Plan<SrcExp> src_;
  index_t pad_y_, pad_x_, src_h_, src_w_, dst_h_;
  cuda::IndexDiv h_div_;  // by dst_h_
};

}  // namespace umbra::expr

namespace umbra {
using expr::pad;
}  // namespace umbra
