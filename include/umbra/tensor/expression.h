// The expression templates: the types a numpy-like statement builds before it is evaluated.
// Responsible for: the Exp base, scalars, elementwise unary/binary maps (+ - * / and F<op>),
// .T() for dot, and the assignment operators (savers) of anything assignable (RValueExp).
// Not responsible for evaluation (plan.h builds per-element evaluators, engine.h dispatches to the
// CPU loop or CUDA kernel) nor for tensors themselves (tensor.h). Extensions live in ext/.
//
// Operands are stored BY VALUE: a Tensor is a small view (pointer, shape, stride, stream), so an
// expression never holds a reference to a temporary and `auto e = a * b + c;` stays valid as long
// as the tensors' memory does (mshadow stored references, which dangled when captured).
#pragma once

#include <type_traits>

#include "umbra/base.h"
#include "umbra/tensor/shape.h"

namespace umbra {

/// Savers: how a value is stored into the destination (=, +=, -=, *=, /=).
namespace sv {
struct saveto {
  template <typename DType>
  UMBRA_XINLINE static void Save(DType& a, DType b) { a = b; }
  static constexpr const char* kName = "=";
};
struct plusto {
  template <typename DType>
  UMBRA_XINLINE static void Save(DType& a, DType b) { a += b; }
  static constexpr const char* kName = "+=";
};
struct minusto {
  template <typename DType>
  UMBRA_XINLINE static void Save(DType& a, DType b) { a -= b; }
  static constexpr const char* kName = "-=";
};
struct multo {
  template <typename DType>
  UMBRA_XINLINE static void Save(DType& a, DType b) { a *= b; }
  static constexpr const char* kName = "*=";
};
struct divto {
  template <typename DType>
  UMBRA_XINLINE static void Save(DType& a, DType b) { a /= b; }
  static constexpr const char* kName = "/=";
};
}  // namespace sv

/// Basic binary operators used by + - * / (user functors live in functors.h).
namespace op {
struct plus {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a + b; }
};
struct minus {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a - b; }
};
struct mul {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a * b; }
};
struct div {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a / b; }
};
struct negate {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return -a; }
};
struct identity {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return a; }
};
}  // namespace op

namespace expr {

/// Expression kinds. Map expressions are elementwise (assign-safe); chainer expressions map
/// indices (broadcast, pad, ...: the destination must not alias a source); complex expressions
/// (dot, whole-tensor reductions) may only form the entire right-hand side of a statement.
enum ExpType : int { kRValue = 0, kMapper = 1, kChainer = 3, kComplex = 7 };

/// Base of every expression. Each concrete expression declares:
///   kDim (0 for scalars), kDevMask (bitwise device set), kFlat (can be evaluated by flat index on
///   contiguous memory), and a Plan<E> specialisation in plan.h or its extension header.
template <typename SubType, typename DType, int exp_type>
struct Exp {
  using DataType = DType;
  static constexpr int kExpType = exp_type;
  UMBRA_XINLINE const SubType& self() const { return *static_cast<const SubType*>(this); }
  UMBRA_XINLINE SubType* ptrself() { return static_cast<SubType*>(this); }
};

/// A scalar broadcast to every element.
template <typename DType>
struct ScalarExp : public Exp<ScalarExp<DType>, DType, kMapper> {
  static constexpr int kDim = 0;
  static constexpr int kDevMask = 0xff;
  static constexpr bool kFlat = true;
  DType scalar_;
  explicit ScalarExp(DType s) : scalar_(s) {}
};
template <typename DType>
inline ScalarExp<DType> scalar(DType s) {
  return ScalarExp<DType>(s);
}

template <typename TA, typename TB>
constexpr int CombinedDim() {
  static_assert(TA::kDim == 0 || TB::kDim == 0 || TA::kDim == TB::kDim,
                "umbra: operands of an elementwise expression have different numbers of dimensions");
  return TA::kDim == 0 ? TB::kDim : TA::kDim;
}

/// Elementwise binary map OP(lhs, rhs).
template <typename OP, typename TA, typename TB, typename DType, int etype>
struct BinaryMapExp : public Exp<BinaryMapExp<OP, TA, TB, DType, etype>, DType, etype> {
  static_assert(TA::kExpType != kComplex && TB::kExpType != kComplex,
                "umbra: dot() and whole-tensor reductions must be the entire right-hand side of a "
                "statement; evaluate them into a tensor first");
  static_assert((TA::kDevMask & TB::kDevMask) != 0,
                "umbra: an expression mixes cpu and gpu tensors; Copy() one side first");
  static constexpr int kDim = CombinedDim<TA, TB>();
  static constexpr int kDevMask = TA::kDevMask & TB::kDevMask;
  static constexpr bool kFlat = TA::kFlat && TB::kFlat;
  TA lhs_;
  TB rhs_;
  BinaryMapExp(const TA& l, const TB& r) : lhs_(l), rhs_(r) {}
};

/// Elementwise unary map OP(src).
template <typename OP, typename TA, typename DType, int etype>
struct UnaryMapExp : public Exp<UnaryMapExp<OP, TA, DType, etype>, DType, etype> {
  static_assert(TA::kExpType != kComplex,
                "umbra: dot() and whole-tensor reductions must be the entire right-hand side of a "
                "statement; evaluate them into a tensor first");
  static constexpr int kDim = TA::kDim;
  static constexpr int kDevMask = TA::kDevMask;
  static constexpr bool kFlat = TA::kFlat;
  TA src_;
  explicit UnaryMapExp(const TA& s) : src_(s) {}
};

/// The transpose of a 2-D expression, made by .T(). Used by dot() to select a BLAS transpose
/// flag, and elementwise as a strided read (the destination must not alias the source).
template <typename E, typename DType>
struct TransposeExp : public Exp<TransposeExp<E, DType>, DType, kChainer> {
  static_assert(E::kDim == 2 || E::kDim == 1, "umbra: .T() applies to 1-D or 2-D tensors");
  static constexpr int kDim = E::kDim;
  static constexpr int kDevMask = E::kDevMask;
  static constexpr bool kFlat = false;
  static constexpr bool kMapsIndex = true;  // element (y, x) reads (x, y): alias.h
  E exp_;
  explicit TransposeExp(const E& e) : exp_(e) {}
  const E& T() const { return exp_; }
};

/// Builds a binary map; the general form behind + - * / and F<OP>(a, b).
template <typename OP, typename TA, typename TB, typename DType, int ta, int tb>
inline BinaryMapExp<OP, TA, TB, DType, (ta | tb | kMapper)> MakeExp(const Exp<TA, DType, ta>& a,
                                                                     const Exp<TB, DType, tb>& b) {
  return BinaryMapExp<OP, TA, TB, DType, (ta | tb | kMapper)>(a.self(), b.self());
}

/// F<OP>(a, b): a user functor with `UMBRA_XINLINE static DType Map(DType, DType)`.
template <typename OP, typename TA, typename TB, typename DType, int ta, int tb>
inline auto F(const Exp<TA, DType, ta>& a, const Exp<TB, DType, tb>& b) {
  return MakeExp<OP>(a, b);
}
template <typename OP, typename TA, typename DType, int ta>
inline auto F(const Exp<TA, DType, ta>& a, std::type_identity_t<DType> b) {
  return MakeExp<OP>(a, ScalarExp<DType>(b));
}
template <typename OP, typename TB, typename DType, int tb>
inline auto F(std::type_identity_t<DType> a, const Exp<TB, DType, tb>& b) {
  return MakeExp<OP>(ScalarExp<DType>(a), b);
}
/// F<OP>(a): a user functor with `UMBRA_XINLINE static DType Map(DType)`.
template <typename OP, typename TA, typename DType, int ta>
inline UnaryMapExp<OP, TA, DType, (ta | kMapper)> F(const Exp<TA, DType, ta>& a) {
  return UnaryMapExp<OP, TA, DType, (ta | kMapper)>(a.self());
}

#define UMBRA_BINARY_OPERATOR_(sym, OP)                                                        \
  template <typename TA, typename TB, typename DType, int ta, int tb>                          \
  inline auto operator sym(const Exp<TA, DType, ta>& a, const Exp<TB, DType, tb>& b) {         \
    return MakeExp<OP>(a, b);                                                                  \
  }                                                                                            \
  template <typename TA, typename DType, int ta>                                               \
  inline auto operator sym(const Exp<TA, DType, ta>& a, std::type_identity_t<DType> b) {       \
    return MakeExp<OP>(a, ScalarExp<DType>(b));                                               \
  }                                                                                            \
  template <typename TB, typename DType, int tb>                                               \
  inline auto operator sym(std::type_identity_t<DType> a, const Exp<TB, DType, tb>& b) {       \
    return MakeExp<OP>(ScalarExp<DType>(a), b);                                               \
  }
UMBRA_BINARY_OPERATOR_(+, op::plus)
UMBRA_BINARY_OPERATOR_(-, op::minus)
UMBRA_BINARY_OPERATOR_(*, op::mul)
UMBRA_BINARY_OPERATOR_(/, op::div)
#undef UMBRA_BINARY_OPERATOR_

template <typename TA, typename DType, int ta>
inline auto operator-(const Exp<TA, DType, ta>& a) {
  return F<op::negate>(a);
}

/// Dispatches `dst SV= exp` by expression kind; defined in engine.h.
template <typename SV, typename RV, typename DType>
struct ExpEngine;

/// Base of everything that can stand on the left of =, +=, -=, *=, /=: tensors, and the
/// index-mapping expressions that write through (slice, concat). Container is the concrete type.
template <typename Container, typename DType>
struct RValueExp : public Exp<Container, DType, kRValue> {
  /// Fill with a scalar.
  Container& operator=(DType s) { return Assign<sv::saveto>(ScalarExp<DType>(s)); }
  Container& operator+=(DType s) { return Assign<sv::plusto>(ScalarExp<DType>(s)); }
  Container& operator-=(DType s) { return Assign<sv::minusto>(ScalarExp<DType>(s)); }
  Container& operator*=(DType s) { return Assign<sv::multo>(ScalarExp<DType>(s)); }
  Container& operator/=(DType s) { return Assign<sv::divto>(ScalarExp<DType>(s)); }
  template <typename E, int etype>
  Container& operator+=(const Exp<E, DType, etype>& e) { return Assign<sv::plusto>(e); }
  template <typename E, int etype>
  Container& operator-=(const Exp<E, DType, etype>& e) { return Assign<sv::minusto>(e); }
  template <typename E, int etype>
  Container& operator*=(const Exp<E, DType, etype>& e) { return Assign<sv::multo>(e); }
  template <typename E, int etype>
  Container& operator/=(const Exp<E, DType, etype>& e) { return Assign<sv::divto>(e); }

  /// Evaluates `*this SV= e`. Concrete types forward operator= here (it is not inherited).
  template <typename SV, typename E, int etype>
  Container& Assign(const Exp<E, DType, etype>& e) {
    ExpEngine<SV, Container, DType>::Eval(this->ptrself(), e);
    return *(this->ptrself());
  }
};

}  // namespace expr

using expr::F;
using expr::scalar;

}  // namespace umbra
