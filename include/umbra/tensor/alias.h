// Whether a statement's destination shares memory with what its right-hand side reads. A
// statement is one loop or kernel over the destination's elements in no fixed order, so it may
// read a destination element only where it writes it (`a = a * 2`): `a = a.T()` on a square a
// read elements it had already overwritten (a symmetric result), a row shift
// `h = concat<0>(slice<0>(h, 1, n), v)` went wrong by thread count, and an offset view of the
// same memory (`a.Slice(1, n) = a.Slice(0, n - 1) + 1`) smeared one value; all silently.
// MapExp refuses these; a TensorContainer evaluates them into new storage instead; dot() (whose
// BLAS reads while it writes) refuses any overlap.
#pragma once

#include <cstdint>
#include <type_traits>

#include "umbra/tensor/tensor.h"

namespace umbra::expr {

/// The memory of a tensor view: `rows` rows of `cols` elements of `elem` bytes, `stride`
/// elements apart, from address `lo`.
struct Region {
  uintptr_t lo = 0;
  index_t rows = 0, cols = 0, stride = 0;
  size_t elem = 0;
  bool Empty() const { return rows <= 0 || cols <= 0; }
  bool Contiguous() const { return rows == 1 || stride == cols; }
  uintptr_t End() const { return lo + elem * size_t((rows - 1) * stride + cols); }  // one past the last
};

template <typename Device, int N, typename DType>
inline Region RegionOf(const Tensor<Device, N, DType>& t) {
  const Shape<2> s = t.shape_.FlatTo2D();
  return {reinterpret_cast<uintptr_t>(t.dptr_), s[0], s[1], t.stride_, sizeof(DType)};
}

/// Whether two regions may share a byte: their spans meet, and they are not column blocks side
/// by side in rows of one stride (the two halves of a matrix's columns). A one-row region's
/// stride says nothing (a vector made as `m[0].Slice(4, 8)` has stride 4, as `m.SliceLast(4,
/// 8)[0]` the matrix's): it takes the other's. Where unsure, true.
inline bool Meet(const Region& a, const Region& b) {
  if (a.Empty() || b.Empty() || !(a.lo < b.End() && b.lo < a.End())) return false;
  if (a.rows == 1 && b.rows == 1) return true;  // spans are exact
  const index_t row = a.rows == 1 ? b.stride : a.stride;
  if (a.elem != b.elem || row <= 0 || (b.rows != 1 && b.stride != row)) return true;
  if ((b.lo - a.lo) % a.elem != 0) return true;  // (unsigned: elem is a power of two, the wrap keeps the remainder)
  const index_t delta = index_t((intptr_t(b.lo) - intptr_t(a.lo)) / intptr_t(a.elem));
  const index_t off = ((delta % row) + row) % row;  // b's first column within a's rows
  return !(off >= a.cols && off + b.cols <= row);
}

/// Whether an elementwise read of r, at the destination's indices, reads d's element at the
/// element being written: the same memory laid out alike (contiguous regions of one size from
/// one address, or equal rows, columns and stride).
inline bool SamePlace(const Region& d, const Region& r) {
  if (d.lo != r.lo || d.elem != r.elem) return false;
  if (d.Contiguous() && r.Contiguous()) return d.rows * d.cols == r.rows * r.cols;
  return d.rows == r.rows && d.cols == r.cols && d.stride == r.stride;
}

// A tensor view or container (its memory is the view's).
template <typename E> concept TensorLike = requires(const E& e) { e.dptr_; e.stride_; RegionOf(e); };

// The operands an expression may hold, by member name (every expression type names them so).
template <typename E> concept HasLhsRhs = requires(const E& e) { e.lhs_; e.rhs_; };
template <typename E> concept HasSrc = requires(const E& e) { e.src_; };
template <typename E> concept HasExp = requires(const E& e) { e.exp_; };
template <typename E> concept HasAB = requires(const E& e) { e.a_; e.b_; };
template <typename E> concept HasImg = requires(const E& e) { e.img_; };
template <typename E> concept HasCol = requires(const E& e) { e.col_; };
template <typename E> concept HasIndex = requires(const E& e) { e.index_; };
template <typename E> concept HasPooledGrad = requires(const E& e) { e.pooled_; e.grad_; };
// An index mapping that may be one region read in its own order (a slice of a tensor).
template <typename E> concept HasExactRegion = requires(const E& e, Region* r) { e.ExactRegion(r); };

/// Calls f(region, mapped) for every tensor expression e reads; mapped: read through an index
/// mapping (an expression with kMapsIndex: transpose, broadcast, slice, ...) rather than at the
/// destination's own indices; a slice of a tensor is the region it covers, read in order. A new
/// expression type must name its operands as above (the static_assert catches one with none of
/// them).
template <typename E, typename F>
inline void VisitReads(const E& e, bool mapped, F&& f) {
  if constexpr (TensorLike<E>) {
    f(RegionOf(e), mapped);
  } else if constexpr (!std::is_same_v<E, ScalarExp<typename E::DataType>>) {
    if constexpr (HasExactRegion<E>) {
      Region r;
      if (e.ExactRegion(&r)) return f(r, mapped);
    }
    if constexpr (requires { E::kMapsIndex; }) mapped = mapped || E::kMapsIndex;
    static_assert(HasLhsRhs<E> || HasSrc<E> || HasExp<E> || HasAB<E> || HasImg<E> || HasCol<E> || HasIndex<E>,
                  "umbra: VisitReads (alias.h) does not know this expression's operands");
    if constexpr (HasLhsRhs<E>) VisitReads(e.lhs_, mapped, f), VisitReads(e.rhs_, mapped, f);
    if constexpr (HasSrc<E>) VisitReads(e.src_, mapped, f);
    if constexpr (HasExp<E>) VisitReads(e.exp_, mapped, f);
    if constexpr (HasAB<E>) VisitReads(e.a_, mapped, f), VisitReads(e.b_, mapped, f);
    if constexpr (HasImg<E>) VisitReads(e.img_, mapped, f);
    if constexpr (HasCol<E>) VisitReads(e.col_, mapped, f);
    if constexpr (HasIndex<E>) VisitReads(e.index_, mapped, f);
    if constexpr (HasPooledGrad<E>) VisitReads(e.pooled_, mapped, f), VisitReads(e.grad_, mapped, f);
  }
}

/// Whether e reads memory of dst (a tensor) other than each element where it is written; with
/// `at_all`, whether it reads dst's memory at all.
template <typename Device, int N, typename DType, typename E>
inline bool ReadsFrom(const Tensor<Device, N, DType>& dst, const E& e, bool at_all) {
  const Region d = RegionOf(dst);
  bool hit = false;
  VisitReads(e, false, [&](const Region& r, bool mapped) {
    hit = hit || (Meet(d, r) && (at_all || mapped || !SamePlace(d, r)));
  });
  return hit;
}

/// An error where `dst SV= e` would read a destination element other than where it writes it:
/// the result would depend on the order in which elements are computed.
template <typename Dst, typename E>
inline void CheckApart(const Dst& dst, const E& e, const char* saver) {
  // The parts of a write-through destination (concat<0>(a, a)) must be apart too: two writes
  // of one element race (`+=` lost updates, `=` kept either).
  int i = 0;
  VisitReads(dst, false, [&](const Region& d, bool) {
    int j = 0;
    VisitReads(dst, false, [&](const Region& o, bool) {
      UMBRA_CHECK(j++ <= i || !Meet(d, o), "assignment (", saver, "): two parts of the destination (", d.rows,
                  " x ", d.cols, " and ", o.rows, " x ", o.cols, " elements as rows) share memory");
    });
    ++i;
  });
  VisitReads(dst, false, [&](const Region& d, bool dst_mapped) {
    VisitReads(e, false, [&](const Region& r, bool mapped) {
      if (!Meet(d, r) || (!dst_mapped && !mapped && SamePlace(d, r))) return;
      UMBRA_THROW("assignment (", saver, "): the destination (", d.rows, " x ", d.cols,
                  " elements as rows) shares memory with a (", r.rows, " x ", r.cols, ") tensor the expression reads ",
                  dst_mapped || mapped ? "through an index mapping (transpose, swapaxis, slice, concat, broadcast, ...)"
                                       : "at other elements (an offset view of the same memory)",
                  ", so it would read elements it has already overwritten; assign to another tensor first "
                  "(a TensorContainer on the left does this itself)");
    });
  });
}

}  // namespace umbra::expr
