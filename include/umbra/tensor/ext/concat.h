// concat<dim>(a, b): a and b joined along dimension dim (all other extents equal), e.g.
// concat<1>((N, 3, H, W), (N, 5, H, W)) -> (N, 8, H, W). Nests: concat<1>(concat<1>(a, b), c).
// Write-through: when both operands are writable (tensors, or write-through slices/concats of
// them) the concat may stand on the left, splitting the right-hand side into its parts:
// `concat<1>(a, b) = c` writes c's first channels into a and the rest into b.
// Writability traits are in slice.h. Next: slice.h is the inverse (cut one part out).
#pragma once

#include "umbra/tensor/ext/slice.h"

namespace umbra::expr {

template <typename TA, typename TB, typename DType, int dim, int cdim>
struct ConcatExp
    : public MakeTensorExp<ConcatExp<TA, TB, DType, dim, cdim>, TA, dim, DType>,
      public std::conditional_t<kWritable<TA> && kWritable<TB>,
                                WriteThrough<ConcatExp<TA, TB, DType, dim, cdim>, DType>,
                                ReadOnly> {
  static_assert((TA::kDevMask & TB::kDevMask) != 0,
                "umbra: concat of expressions on different devices; Copy() one side first");
  static constexpr int kDevMask = TA::kDevMask & TB::kDevMask;
  static constexpr bool kWriteThrough = kWritable<TA> && kWritable<TB>;
  using WriteBase = std::conditional_t<kWriteThrough, WriteThrough<ConcatExp, DType>, ReadOnly>;
  TA a_;
  TB b_;
  /// Extent of dimension cdim in a (its elements come first).
  index_t len_a_;
  /// Writes run on a's stream; b's work is queued there too.
  typename WriteStream<TA>::type stream_ = nullptr;

  ConcatExp(const TA& a, const TB& b, const Shape<dim>& shape, index_t len_a)
      : a_(a), b_(b), len_a_(len_a) {
    this->shape_ = shape;
    if constexpr (kWriteThrough) stream_ = a.stream_;
  }
  ConcatExp(const ConcatExp&) = default;
  // operator= is declared here, not inherited: the implicit copy assignment would hide
  // WriteThrough's, and `concat = <same type>` must write values, never rebind the view.
  const ConcatExp& operator=(const ConcatExp& e) const
    requires kWriteThrough
  {
    return WriteBase::operator=(e);
  }
  template <typename E, int et>
  const ConcatExp& operator=(const Exp<E, DType, et>& e) const
    requires kWriteThrough
  {
    return WriteBase::operator=(e);
  }
  const ConcatExp& operator=(DType s) const
    requires kWriteThrough
  {
    return WriteBase::operator=(s);
  }
};

/// concat<dim>(a, b): shapes (..., da, ...) and (..., db, ...) equal except in dimension dim give
/// (..., da + db, ...); any other difference raises umbra::Error naming both shapes. Writable
/// when both are (file comment); a and b must be on the same device.
template <int dim, typename TA, typename TB, typename DType, int ta, int tb>
inline ConcatExp<TA, TB, DType, TA::kDim, dim> concat(const Exp<TA, DType, ta>& a,
                                                      const Exp<TB, DType, tb>& b) {
  constexpr int n = TA::kDim;
  static_assert(n >= 1 && TB::kDim == n, "umbra: concat of expressions of different ranks");
  static_assert(ta != kComplex && tb != kComplex,
                "umbra: evaluate dot()/reductions into a tensor first");
  static_assert(dim >= 0 && dim < n, "umbra: concat dimension out of range");
  const Shape<n> sa = ShapeCheck<n, TA>::Check(a.self());
  const Shape<n> sb = ShapeCheck<n, TB>::Check(b.self());
  Shape<n> s = sa;
  s[dim] = sb[dim];
  UMBRA_CHECK(s == sb, "concat<", dim, ">: shapes ", sa, " and ", sb,
              " differ outside dimension ", dim);
  s[dim] = sa[dim] + sb[dim];
  return ConcatExp<TA, TB, DType, n, dim>(a.self(), b.self(), s, sa[dim]);
}

template <typename TA, typename TB, typename DType, int dim, int cdim>
class Plan<ConcatExp<TA, TB, DType, dim, cdim>> {
 public:
  explicit Plan(const ConcatExp<TA, TB, DType, dim, cdim>& e)
      : a_(MakePlan(e.a_)),
        b_(MakePlan(e.b_)),
        len_a_(e.len_a_),
        rows_(e.shape_[cdim], e.shape_.ProdShape(cdim + 1, dim - 1), e.shape_.ProdShape(0, dim - 1)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    if constexpr (cdim == dim - 1) return x < len_a_ ? a_.Eval(y, x) : b_.Eval(y, x - len_a_);
    else {
      index_t ya = 0, yb = 0;
      return Split(y, &ya, &yb) ? a_.Eval(ya, x) : b_.Eval(yb, x);
    }
  }
  UMBRA_XINLINE DType& REval(index_t y, index_t x) const {
    if constexpr (cdim == dim - 1) return x < len_a_ ? a_.REval(y, x) : b_.REval(y, x - len_a_);
    else {
      index_t ya = 0, yb = 0;
      return Split(y, &ya, &yb) ? a_.REval(ya, x) : b_.REval(yb, x);
    }
  }

 private:
  // Output row y = (pre * len + d) * inner + in. True: the row is row *ya of a; false: row *yb
  // of b (d shifted by len_a). inner is the product of the dimensions between cdim and the last.
  UMBRA_XINLINE bool Split(index_t y, index_t* ya, index_t* yb) const {
    const RowSplit::Parts p = rows_(y);
    if (p.d < len_a_) {
      *ya = (p.pre * len_a_ + p.d) * rows_.inner() + p.in;
      return true;
    }
    *yb = (p.pre * (rows_.len() - len_a_) + p.d - len_a_) * rows_.inner() + p.in;
    return false;
  }
  Plan<TA> a_;
  Plan<TB> b_;
  index_t len_a_;
  RowSplit rows_;  // the output's rows as (pre, len, inner)
};

}  // namespace umbra::expr

namespace umbra {
using expr::concat;
}  // namespace umbra
