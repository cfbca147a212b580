// reshape(src, shape): the same elements, in the same row-major order, seen with another shape
// of equal size. Unlike Tensor::View it takes any expression (a strided view, a sum, a chain of
// index mappings) because it maps indices instead of reinterpreting memory: output element with
// flat index i reads source element with flat index i.
// Not a copy and not write-through (write into a View of the destination instead).
// Next: swapaxis.h / transpose.h permute dimensions; slice.h cuts a range.
#pragma once

#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename SrcExp, typename DType, int dimdst, int dimsrc>
struct ReshapeExp
    : public MakeTensorExp<ReshapeExp<SrcExp, DType, dimdst, dimsrc>, SrcExp, dimdst, DType> {
  // Flat index i is the same element on both sides, so a contiguous elementwise source keeps
  // the flat fast path (FlatCheck below asks the source).
  static constexpr bool kFlat = SrcExp::kFlat;
  // Flat index i is i on both sides: `a = reshape(a, s)` reads each element where it is written
  // when both are contiguous (alias.h SamePlace).
  static constexpr bool kMapsIndex = false;
  SrcExp src_;
  /// Columns of the source's 2-D view, needed to turn a flat index back into (row, col).
  index_t src_cols_;
  ReshapeExp(const SrcExp& src, const Shape<dimdst>& shape, index_t src_cols)
      : src_(src), src_cols_(src_cols) {
    this->shape_ = shape;
  }
};

/// reshape(src, shape): src (any rank, any layout) seen as `shape`; shape.Size() must equal the
/// source's size, otherwise umbra::Error naming both shapes. E.g. (N, C, H, W) -> (N, C*H*W).
template <typename SrcExp, typename DType, int etype, int dimdst>
inline ReshapeExp<SrcExp, DType, dimdst, SrcExp::kDim> reshape(const Exp<SrcExp, DType, etype>& src,
                                                               const Shape<dimdst>& shape) {
  static_assert(SrcExp::kDim >= 1, "umbra: reshape needs a source with a shape (not a scalar)");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  const Shape<SrcExp::kDim> s = ShapeCheck<SrcExp::kDim, SrcExp>::Check(src.self());
  UMBRA_CHECK(s.Size() == shape.Size(), "reshape from ", s, " to ", shape,
              " changes the number of elements (", s.Size(), " vs ", shape.Size(), ")");
  return ReshapeExp<SrcExp, DType, dimdst, SrcExp::kDim>(src.self(), shape,
                                                         s[SrcExp::kDim - 1]);
}

template <typename SrcExp, typename DType, int dimdst, int dimsrc>
class Plan<ReshapeExp<SrcExp, DType, dimdst, dimsrc>> {
 public:
  explicit Plan(const ReshapeExp<SrcExp, DType, dimdst, dimsrc>& e)
      : src_(MakePlan(e.src_)), dst_cols_(e.shape_[dimdst - 1]), src_cols_(e.src_cols_) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    // Same last extent (e.g. (N, C, H, W) -> (N*C*H, W)): rows line up, no division needed.
    if (dst_cols_ == src_cols_) return src_.Eval(y, x);
    const index_t i = y * dst_cols_ + x;
    const index_t sy = i / src_cols_;
    return src_.Eval(sy, i - sy * src_cols_);
  }
  UMBRA_XINLINE DType EvalFlat(index_t i) const { return src_.EvalFlat(i); }

 private:
  Plan<SrcExp> src_;
  index_t dst_cols_, src_cols_;
};

template <typename SrcExp, typename DType, int dimdst, int dimsrc>
struct FlatOnGPU<ReshapeExp<SrcExp, DType, dimdst, dimsrc>> {
  static constexpr bool value = FlatOnGPU<SrcExp>::value;
};
template <typename SrcExp, typename DType, int dimdst, int dimsrc>
struct FlatCheck<ReshapeExp<SrcExp, DType, dimdst, dimsrc>> {
  static bool Check(const ReshapeExp<SrcExp, DType, dimdst, dimsrc>& e) {
    return FlatCheck<SrcExp>::Check(e.src_);
  }
};

}  // namespace umbra::expr

namespace umbra {
using expr::reshape;
}  // namespace umbra
