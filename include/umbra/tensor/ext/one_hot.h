// one_hot_encode(index, depth): class indices (stored as DType, like labels read from a data
// file) turned into one-hot rows: (n) -> (n, depth) with out[i, index[i]] = 1 and 0 elsewhere.
// An index is truncated toward zero (2.7 is class 2); one outside [0, depth) (-0.5 too), or NaN,
// leaves its row all zeros, never reads or writes out of bounds. Not write-through.
// Next: take.h (row gather by index, the embedding lookup).
#pragma once

#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename IndexExp, typename DType>
struct OneHotEncodeExp
    : public MakeTensorExp<OneHotEncodeExp<IndexExp, DType>, IndexExp, 2, DType> {
  IndexExp index_;
  OneHotEncodeExp(const IndexExp& index, index_t n, index_t depth) : index_(index) {
    this->shape_ = Shape2(n, depth);
  }
};

/// one_hot_encode(index, depth): index (n) -> (n, depth), out[i, j] = (j == index[i]) ? 1 : 0.
/// depth must be >= 0 (umbra::Error otherwise).
template <typename IndexExp, typename DType, int etype>
inline OneHotEncodeExp<IndexExp, DType> one_hot_encode(const Exp<IndexExp, DType, etype>& index,
                                                       index_t depth) {
  static_assert(IndexExp::kDim == 1, "umbra: one_hot_encode takes a 1-D index expression");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  const Shape<1> s = ShapeCheck<1, IndexExp>::Check(index.self());
  UMBRA_CHECK(depth >= 0, "one_hot_encode: negative depth ", depth, " for index shape ", s);
  return OneHotEncodeExp<IndexExp, DType>(index.self(), s[0], depth);
}

template <typename IndexExp, typename DType>
class Plan<OneHotEncodeExp<IndexExp, DType>> {
 public:
  explicit Plan(const OneHotEncodeExp<IndexExp, DType>& e) : index_(MakePlan(e.index_)), depth_(e.shape_[1]) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    // A 1-D expression's 2-D view is one row: element y is (0, y).
    // In [0, depth) as a value before the cast truncates it, compared in double (a float's
    // 2^24 + 1 is 2^24): -0.5 (cast: 0) and NaN are no class, and nothing past index_t's range
    // is cast.
    const double v = static_cast<double>(index_.Eval(0, y));
    return v >= 0.0 && v < static_cast<double>(depth_) && static_cast<index_t>(v) == x ? DType(1) : DType(0);
  }

 private:
  Plan<IndexExp> index_;
  index_t depth_;
};

}  // namespace umbra::expr

namespace umbra {
using expr::one_hot_encode;
}  // namespace umbra
