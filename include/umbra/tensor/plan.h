// Plans: the per-element evaluators an expression turns into before a loop or kernel runs.
// Plan<E> is a small trivially-copyable struct (it is passed by value to CUDA kernels) with
//   DType Eval(y, x)      element (y, x) of the expression's 2-D flattened view,
//   DType EvalFlat(i)     element i by flat index (only when E::kFlat, or FlatOnGPU on the GPU,
//                         and memory is contiguous),
//   DType& REval(y, x)    for expressions that can be written through (tensors, slice, concat).
//   Pack4 EvalPack(i)     elements 4i..4i+3 at once (optional; the GPU's vectorised path: one
//                         16-byte load per float tensor leaf instead of four 4-byte loads).
// Also here: ShapeCheck (the one shape check per statement) and FlatCheck (contiguity at run
// time). Extensions add their own Plan/ShapeCheck specialisations next to their expression.
#pragma once

#include <cstdint>

#include "umbra/tensor/expression.h"
#include "umbra/tensor/tensor.h"

namespace umbra::expr {

template <typename E>
class Plan;

/// Four consecutive elements, aligned so that a load or store of one is a single vector access.
template <typename DType>
struct alignas(4 * sizeof(DType)) Pack4 {
  DType v[4];
};

/// A plan offers the packed path. Composite plans declare EvalPack only when their parts do.
template <typename P>
concept HasPack = requires(const P& p) { p.EvalPack(index_t{}); };

template <typename E>
inline Plan<E> MakePlan(const E& e) {
  return Plan<E>(e);
}

template <typename Device, int N, typename DType>
class Plan<Tensor<Device, N, DType>> {
 public:
  explicit Plan(const Tensor<Device, N, DType>& t) : dptr_(t.dptr_), stride_(t.stride_) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const { return dptr_[y * stride_ + x]; }
  UMBRA_XINLINE DType& REval(index_t y, index_t x) const { return dptr_[y * stride_ + x]; }
  UMBRA_XINLINE DType EvalFlat(index_t i) const { return dptr_[i]; }
  UMBRA_XINLINE DType& REvalFlat(index_t i) const { return dptr_[i]; }
  UMBRA_XINLINE Pack4<DType> EvalPack(index_t i) const {
    return *reinterpret_cast<const Pack4<DType>*>(dptr_ + 4 * i);
  }
  UMBRA_XINLINE Pack4<DType>& REvalPack(index_t i) const {
    return *reinterpret_cast<Pack4<DType>*>(dptr_ + 4 * i);
  }

 private:
  DType* dptr_;
  index_t stride_;
};

template <typename DType>
class Plan<ScalarExp<DType>> {
 public:
  explicit Plan(const ScalarExp<DType>& e) : scalar_(e.scalar_) {}
  UMBRA_XINLINE DType Eval(index_t, index_t) const { return scalar_; }
  UMBRA_XINLINE DType EvalFlat(index_t) const { return scalar_; }
  UMBRA_XINLINE Pack4<DType> EvalPack(index_t) const { return {{scalar_, scalar_, scalar_, scalar_}}; }

 private:
  DType scalar_;
};

template <typename OP, typename TA, typename TB, typename DType, int etype>
class Plan<BinaryMapExp<OP, TA, TB, DType, etype>> {
 public:
  explicit Plan(const BinaryMapExp<OP, TA, TB, DType, etype>& e)
      : lhs_(MakePlan(e.lhs_)), rhs_(MakePlan(e.rhs_)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    return OP::Map(lhs_.Eval(y, x), rhs_.Eval(y, x));
  }
  UMBRA_XINLINE DType EvalFlat(index_t i) const {
    return OP::Map(lhs_.EvalFlat(i), rhs_.EvalFlat(i));
  }
  UMBRA_XINLINE Pack4<DType> EvalPack(index_t i) const
    requires HasPack<Plan<TA>> && HasPack<Plan<TB>>
  {
    const Pack4<DType> a = lhs_.EvalPack(i), b = rhs_.EvalPack(i);
    Pack4<DType> r;
#pragma unroll
    for (int k = 0; k < 4; ++k) r.v[k] = OP::Map(a.v[k], b.v[k]);
    return r;
  }

 private:
  Plan<TA> lhs_;
  Plan<TB> rhs_;
};

template <typename OP, typename TA, typename DType, int etype>
class Plan<UnaryMapExp<OP, TA, DType, etype>> {
 public:
  explicit Plan(const UnaryMapExp<OP, TA, DType, etype>& e) : src_(MakePlan(e.src_)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const { return OP::Map(src_.Eval(y, x)); }
  UMBRA_XINLINE DType EvalFlat(index_t i) const { return OP::Map(src_.EvalFlat(i)); }
  UMBRA_XINLINE Pack4<DType> EvalPack(index_t i) const
    requires HasPack<Plan<TA>>
  {
    const Pack4<DType> a = src_.EvalPack(i);
    Pack4<DType> r;
#pragma unroll
    for (int k = 0; k < 4; ++k) r.v[k] = OP::Map(a.v[k]);
    return r;
  }

 private:
  Plan<TA> src_;
};

template <typename E, typename DType>
class Plan<TransposeExp<E, DType>> {
 public:
  explicit Plan(const TransposeExp<E, DType>& e) : src_(MakePlan(e.exp_)) {}
  // A 1-D "transpose" is the same row; a 2-D one swaps the indices.
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    if constexpr (E::kDim == 1) return src_.Eval(y, x);
    else return src_.Eval(x, y);
  }

 private:
  Plan<E> src_;
};

/// Shape of an expression, checking that its parts agree. Scalars report -1 in dimension 0
/// ("any shape"). The default reads `shape_`, which tensors and index-mapping extensions keep.
template <int dim, typename E>
struct ShapeCheck {
  static Shape<dim> Check(const E& e) { return e.shape_; }
};
// A tensor with a shape and no memory (`Tensor<cpu, 2> t(Shape2(2, 3)); t = 1.f`, never given
// AllocSpace) would be read or written through null: an error, once per statement like the shapes.
template <int dim, typename Device, int N, typename DType>
struct ShapeCheck<dim, Tensor<Device, N, DType>> {
  static Shape<dim> Check(const Tensor<Device, N, DType>& t) {
    UMBRA_CHECK(t.dptr_ != nullptr || t.shape_.Size() == 0, "a tensor of shape ", t.shape_,
                " has no memory (give it AllocSpace, or use a TensorContainer)");
    return t.shape_;
  }
};
template <int dim, typename DType>
struct ShapeCheck<dim, ScalarExp<DType>> {
  static Shape<dim> Check(const ScalarExp<DType>&) {
    Shape<dim> s;
    s[0] = -1;
    return s;
  }
};
template <int dim, typename OP, typename TA, typename TB, typename DType, int etype>
struct ShapeCheck<dim, BinaryMapExp<OP, TA, TB, DType, etype>> {
  static Shape<dim> Check(const BinaryMapExp<OP, TA, TB, DType, etype>& e) {
    Shape<dim> a = ShapeCheck<dim, TA>::Check(e.lhs_);
    Shape<dim> b = ShapeCheck<dim, TB>::Check(e.rhs_);
    if (a[0] == -1) return b;
    if (b[0] == -1) return a;
    UMBRA_CHECK(a == b, "shape mismatch in elementwise expression: ", a, " vs ", b);
    return a;
  }
};
template <int dim, typename OP, typename TA, typename DType, int etype>
struct ShapeCheck<dim, UnaryMapExp<OP, TA, DType, etype>> {
  static Shape<dim> Check(const UnaryMapExp<OP, TA, DType, etype>& e) {
    return ShapeCheck<dim, TA>::Check(e.src_);
  }
};
template <int dim, typename E, typename DType>
struct ShapeCheck<dim, TransposeExp<E, DType>> {
  static Shape<dim> Check(const TransposeExp<E, DType>& e) {
    Shape<dim> s = ShapeCheck<dim, E>::Check(e.exp_);
    if constexpr (dim == 2) {
      index_t t = s[0];
      s[0] = s[1];
      s[1] = t;
    }
    return s;
  }
};

/// Whether the GPU may evaluate E by flat index: E::kFlat, and also trees that hold index
/// mappings whose flat index a GPU kernel splits at a few instructions an element while a CPU
/// loop over rows hoists it (broadcast: a batch norm's or bias's per-channel vectors). The CPU
/// keeps its row loops for those (kFlat false); extensions specialise this next to their
/// expression. Composites ask their parts.
template <typename E>
struct FlatOnGPU {
  static constexpr bool value = E::kFlat;
};
template <typename OP, typename TA, typename TB, typename DType, int etype>
struct FlatOnGPU<BinaryMapExp<OP, TA, TB, DType, etype>> {
  static constexpr bool value = FlatOnGPU<TA>::value && FlatOnGPU<TB>::value;
};
template <typename OP, typename TA, typename DType, int etype>
struct FlatOnGPU<UnaryMapExp<OP, TA, DType, etype>> {
  static constexpr bool value = FlatOnGPU<TA>::value;
};

/// Whether the flat-index path may be used: every tensor leaf is contiguous. Only instantiated
/// for expressions with kFlat, or FlatOnGPU on the GPU (elementwise trees of tensors and
/// scalars, casts, broadcasts).
template <typename E>
struct FlatCheck {
  static bool Check(const E&) { return false; }
};
template <typename Device, int N, typename DType>
struct FlatCheck<Tensor<Device, N, DType>> {
  static bool Check(const Tensor<Device, N, DType>& t) { return t.CheckContiguous(); }
};
template <typename DType>
struct FlatCheck<ScalarExp<DType>> {
  static bool Check(const ScalarExp<DType>&) { return true; }
};
template <typename OP, typename TA, typename TB, typename DType, int etype>
struct FlatCheck<BinaryMapExp<OP, TA, TB, DType, etype>> {
  static bool Check(const BinaryMapExp<OP, TA, TB, DType, etype>& e) {
    return FlatCheck<TA>::Check(e.lhs_) && FlatCheck<TB>::Check(e.rhs_);
  }
};
template <typename OP, typename TA, typename DType, int etype>
struct FlatCheck<UnaryMapExp<OP, TA, DType, etype>> {
  static bool Check(const UnaryMapExp<OP, TA, DType, etype>& e) {
    return FlatCheck<TA>::Check(e.src_);
  }
};

/// Whether the packed path may be used: every tensor leaf starts on a Pack4 boundary (only asked
/// after FlatCheck passed and for plans with HasPack).
template <typename E>
struct PackCheck {
  static bool Check(const E&) { return false; }
};
template <typename Device, int N, typename DType>
struct PackCheck<Tensor<Device, N, DType>> {
  static bool Check(const Tensor<Device, N, DType>& t) {
    return reinterpret_cast<uintptr_t>(t.dptr_) % alignof(Pack4<DType>) == 0;
  }
};
template <typename DType>
struct PackCheck<ScalarExp<DType>> {
  static bool Check(const ScalarExp<DType>&) { return true; }
};
template <typename OP, typename TA, typename TB, typename DType, int etype>
struct PackCheck<BinaryMapExp<OP, TA, TB, DType, etype>> {
  static bool Check(const BinaryMapExp<OP, TA, TB, DType, etype>& e) {
    return PackCheck<TA>::Check(e.lhs_) && PackCheck<TB>::Check(e.rhs_);
  }
};
template <typename OP, typename TA, typename DType, int etype>
struct PackCheck<UnaryMapExp<OP, TA, DType, etype>> {
  static bool Check(const UnaryMapExp<OP, TA, DType, etype>& e) {
    return PackCheck<TA>::Check(e.src_);
  }
};

/// Stream a destination runs on: tensors carry one; write-through extensions keep stream_.
template <typename Dst>
inline auto* StreamOf(const Dst& dst) {
  return dst.stream_;
}

}  // namespace umbra::expr
