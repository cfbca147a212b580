// tcast<DstDType>(src): elementwise type conversion, out = DstDType(src), e.g. a float tensor
// read as double, or float labels truncated to int. Elementwise, so a contiguous source keeps
// the flat fast path (kFlat, EvalFlat and FlatCheck forward to the source).
// Conversion is C++'s static_cast: float -> int truncates toward zero and is undefined outside
// the int range (as in C++). Not write-through.
#pragma once

#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename DstDType, typename SrcExp, typename SrcDType, int etype>
struct TypecastExp : public Exp<TypecastExp<DstDType, SrcExp, SrcDType, etype>, DstDType, etype> {
  static_assert(SrcExp::kExpType != kComplex,
                "umbra: evaluate dot()/reductions into a tensor before tcast");
  static constexpr int kDim = SrcExp::kDim;
  static constexpr int kDevMask = SrcExp::kDevMask;
  static constexpr bool kFlat = SrcExp::kFlat;
  SrcExp src_;
  explicit TypecastExp(const SrcExp& src) : src_(src) {}
};

/// tcast<DstDType>(src): same shape as src, each element converted to DstDType. Keeps src's
/// kind (elementwise stays elementwise; an index mapping stays one).
template <typename DstDType, typename SrcExp, typename SrcDType, int etype>
inline TypecastExp<DstDType, SrcExp, SrcDType, (etype | kMapper)> tcast(
    const Exp<SrcExp, SrcDType, etype>& src) {
  return TypecastExp<DstDType, SrcExp, SrcDType, (etype | kMapper)>(src.self());
}

template <typename DstDType, typename SrcExp, typename SrcDType, int etype>
class Plan<TypecastExp<DstDType, SrcExp, SrcDType, etype>> {
 public:
  explicit Plan(const TypecastExp<DstDType, SrcExp, SrcDType, etype>& e)
      : src_(MakePlan(e.src_)) {}
  UMBRA_XINLINE DstDType Eval(index_t y, index_t x) const {
    return static_cast<DstDType>(src_.Eval(y, x));
  }
  UMBRA_XINLINE DstDType EvalFlat(index_t i) const {
    return static_cast<DstDType>(src_.EvalFlat(i));
  }
  UMBRA_XINLINE Pack4<DstDType> EvalPack(index_t i) const
    requires HasPack<Plan<SrcExp>>
  {
    const auto a = src_.EvalPack(i);
    Pack4<DstDType> r;
#pragma unroll
    for (int k = 0; k < 4; ++k) r.v[k] = static_cast<DstDType>(a.v[k]);
    return r;
  }

 private:
  Plan<SrcExp> src_;
};

template <int dim, typename DstDType, typename SrcExp, typename SrcDType, int etype>
struct ShapeCheck<dim, TypecastExp<DstDType, SrcExp, SrcDType, etype>> {
  static Shape<dim> Check(const TypecastExp<DstDType, SrcExp, SrcDType, etype>& e) {
    return ShapeCheck<dim, SrcExp>::Check(e.src_);
  }
};

template <typename DstDType, typename SrcExp, typename SrcDType, int etype>
struct FlatOnGPU<TypecastExp<DstDType, SrcExp, SrcDType, etype>> {
  static constexpr bool value = FlatOnGPU<SrcExp>::value;
};
template <typename DstDType, typename SrcExp, typename SrcDType, int etype>
struct FlatCheck<TypecastExp<DstDType, SrcExp, SrcDType, etype>> {
  static bool Check(const TypecastExp<DstDType, SrcExp, SrcDType, etype>& e) {
    return FlatCheck<SrcExp>::Check(e.src_);
  }
};
template <typename DstDType, typename SrcExp, typename SrcDType, int etype>
struct PackCheck<TypecastExp<DstDType, SrcExp, SrcDType, etype>> {
  static bool Check(const TypecastExp<DstDType, SrcExp, SrcDType, etype>& e) {
    return PackCheck<SrcExp>::Check(e.src_);
  }
};

}  // namespace umbra::expr

namespace umbra {
using expr::tcast;
}  // namespace umbra
