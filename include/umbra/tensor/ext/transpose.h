// transpose(src, axes): a general permutation of the dimensions of an N-D expression, chosen at
// run time: dimension k of the output is dimension axes[k] of the source, e.g. axes (0, 2, 3, 1)
// turns (N, C, H, W) into (N, H, W, C). For swapping two compile-time axes, swapaxis.h is cheaper;
// the 2-D matrix transpose used by dot() is .T() (expression.h). Not write-through.
// Index mapping: decompose the output row index into N-1 coordinates and sum them with the
// source's flat strides permuted by axes (N-2 divisions per element, one more to re-enter the
// source's 2-D view; multiplications, cuda::IndexDiv, where the indices fit in 32 bits).
#pragma once

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename SrcExp, typename DType, int dim>
struct TransposeAxesExp
    : public MakeTensorExp<TransposeAxesExp<SrcExp, DType, dim>, SrcExp, dim, DType> {
  SrcExp src_;
  Shape<dim> src_shape_;
  Shape<dim> axes_;
  TransposeAxesExp(const SrcExp& src, const Shape<dim>& src_shape, const Shape<dim>& axes)
      : src_(src), src_shape_(src_shape), axes_(axes) {
    for (int k = 0; k < dim; ++k) this->shape_[k] = src_shape[axes[k]];
  }
};

/// transpose(src, axes): out[i_0, ..., i_{N-1}] = src[j] with j[axes[k]] = i_k, so the output
/// shape is (s[axes[0]], ..., s[axes[N-1]]). axes must be a permutation of 0..N-1, otherwise
/// umbra::Error naming axes and the source shape. The destination must not alias src.
template <typename SrcExp, typename DType, int etype, int dim>
inline TransposeAxesExp<SrcExp, DType, dim> transpose(const Exp<SrcExp, DType, etype>& src,
                                                      const Shape<dim>& axes) {
  static_assert(SrcExp::kDim == dim,
                "umbra: transpose needs one axis per dimension of the source");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  const Shape<dim> s = ShapeCheck<dim, SrcExp>::Check(src.self());
  bool seen[dim] = {};
  for (int k = 0; k < dim; ++k) {
    const index_t a = axes[k];
    UMBRA_CHECK(a >= 0 && a < dim && !seen[a], "transpose: axes ", axes,
                " are not a permutation of 0..", dim - 1, " (source shape ", s, ")");
    seen[a] = true;
  }
  return TransposeAxesExp<SrcExp, DType, dim>(src.self(), s, axes);
}

template <typename SrcExp, typename DType, int dim>
class Plan<TransposeAxesExp<SrcExp, DType, dim>> {
 public:
  explicit Plan(const TransposeAxesExp<SrcExp, DType, dim>& e)
      : src_(MakePlan(e.src_)), shape_(e.shape_), src_cols_(e.src_shape_[dim - 1]) {
    // Flat stride of each source dimension, then listed in output order.
    Shape<dim> sstride;
    sstride[dim - 1] = 1;
    for (int k = dim - 2; k >= 0; --k) sstride[k] = sstride[k + 1] * e.src_shape_[k + 1];
    for (int k = 0; k < dim; ++k) stride_[k] = sstride[e.axes_[k]];
    // A GPU kernel divides per element: by multiplication where the indices fit in 32 bits.
    const index_t rows = e.shape_.ProdShape(0, dim - 1);
    for (int k = 1; k + 1 < dim; ++k) div_[k] = cuda::IndexDiv(e.shape_[k], rows);
    cols_div_ = cuda::IndexDiv(src_cols_, e.shape_.Size());
  }
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    index_t i = x * stride_[dim - 1];
    for (int k = dim - 2; k >= 1; --k) {
      const index_t q = div_[k].Div(y);
      i += (y - q * shape_[k]) * stride_[k];
      y = q;
    }
    if constexpr (dim >= 2) i += y * stride_[0];  // what is left of y is below shape_[0]
    const index_t sy = cols_div_.Div(i);
    return src_.Eval(sy, i - sy * src_cols_);
  }

 private:
  Plan<SrcExp> src_;
  Shape<dim> shape_, stride_;
  index_t src_cols_;
  cuda::IndexDiv div_[dim], cols_div_;  // div_[0] unused
};

}  // namespace umbra::expr

namespace umbra {
using expr::transpose;
}  // namespace umbra
