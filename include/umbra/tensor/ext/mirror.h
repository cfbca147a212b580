// mirror(src): src flipped along its last dimension, out[..., w] = src[..., W - 1 - w] (the
// horizontal flip of (N, C, H, W) images used for data augmentation). Not a copy; not
// write-through; the destination must not alias src (an in-place flip would read overwritten
// values). Other index mappings: slice.h, crop.h, transpose.h.
#pragma once

#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename SrcExp, typename DType, int dim>
struct MirrorExp : public MakeTensorExp<MirrorExp<SrcExp, DType, dim>, SrcExp, dim, DType> {
  SrcExp src_;
  MirrorExp(const SrcExp& src, const Shape<dim>& shape) : src_(src) { this->shape_ = shape; }
};

/// mirror(src): same shape as src (any rank >= 1), last dimension reversed.
template <typename SrcExp, typename DType, int etype>
inline MirrorExp<SrcExp, DType, SrcExp::kDim> mirror(const Exp<SrcExp, DType, etype>& src) {
  constexpr int n = SrcExp::kDim;
  static_assert(n >= 1, "umbra: mirror needs a source with a shape (not a scalar)");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  return MirrorExp<SrcExp, DType, n>(src.self(), ShapeCheck<n, SrcExp>::Check(src.self()));
}

template <typename SrcExp, typename DType, int dim>
class Plan<MirrorExp<SrcExp, DType, dim>> {
 public:
  explicit Plan(const MirrorExp<SrcExp, DType, dim>& e)
      : src_(MakePlan(e.src_)), last_(e.shape_[dim - 1] - 1) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const { return src_.Eval(y, last_ - x); }

 private:
  Plan<SrcExp> src_;
  index_t last_;
};

}  // namespace umbra::expr

namespace umbra {
using expr::mirror;
}  // namespace umbra
