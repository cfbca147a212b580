// Base of index-mapping extensions (broadcast, pad, im2col, pool, ...): an expression with its own
// output shape whose Plan computes element (y, x) of that shape from its source's plan. Such
// expressions are chainers: they compose with elementwise maps in one loop/kernel, but the
// destination must not alias a source. Write-through extensions (slice, concat) add WriteThrough.
#pragma once

#include "umbra/tensor/engine.h"

namespace umbra::expr {

/// SubType: the concrete expression; SrcExp: the source (gives the device); dim: output rank.
template <typename SubType, typename SrcExp, int dim, typename DType>
struct MakeTensorExp : public Exp<SubType, DType, kChainer> {
  static constexpr int kDim = dim;
  static constexpr int kDevMask = SrcExp::kDevMask;
  static constexpr bool kFlat = false;
  /// Reads its sources at other indices than it is evaluated at: a destination sharing memory
  /// with a source is refused (alias.h). Sources are members named as VisitReads expects.
  static constexpr bool kMapsIndex = true;
  /// The output shape; ShapeCheck reads it.
  Shape<dim> shape_;
};

/// Adds =, +=, -=, *=, /= to an index-mapping expression whose Plan has REval, so that it can be
/// written through (e.g. `concat<1>(a, b) = c` splits c into a and b). SubType keeps `stream_`.
template <typename SubType, typename DType>
struct WriteThrough {
  template <typename E, int et>
  const SubType& operator=(const Exp<E, DType, et>& e) const { return Do<sv::saveto>(e); }
  template <typename E, int et>
  const SubType& operator+=(const Exp<E, DType, et>& e) const { return Do<sv::plusto>(e); }
  template <typename E, int et>
  const SubType& operator-=(const Exp<E, DType, et>& e) const { return Do<sv::minusto>(e); }
  template <typename E, int et>
  const SubType& operator*=(const Exp<E, DType, et>& e) const { return Do<sv::multo>(e); }
  template <typename E, int et>
  const SubType& operator/=(const Exp<E, DType, et>& e) const { return Do<sv::divto>(e); }
  const SubType& operator=(DType s) const { return Do<sv::saveto>(ScalarExp<DType>(s)); }
  const SubType& operator+=(DType s) const { return Do<sv::plusto>(ScalarExp<DType>(s)); }
  const SubType& operator-=(DType s) const { return Do<sv::minusto>(ScalarExp<DType>(s)); }
  const SubType& operator*=(DType s) const { return Do<sv::multo>(ScalarExp<DType>(s)); }
  const SubType& operator/=(DType s) const { return Do<sv::divto>(ScalarExp<DType>(s)); }

 private:
  template <typename SV, typename E, int et>
  const SubType& Do(const Exp<E, DType, et>& e) const {
    static_assert(et != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
    const SubType& self = static_cast<const SubType&>(*this);
    MapExp<SV>(self, e.self());
    return self;
  }
};

}  // namespace umbra::expr
