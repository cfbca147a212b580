// slice<dim>(src, begin, end): the sub-range [begin, end) of dimension `dim` of an N-D expression,
// e.g. slice<1>(x, 2, 5) on (N, C, H, W) keeps channels 2..4 as (N, 3, H, W). Tensor::Slice and
// SliceLast already give views of the first/last dimension; this one works on any dimension and
// any expression, and composes with other index mappings in one loop/kernel.
// Write-through: when the source is writable (a Tensor, or a write-through slice/concat of them)
// the slice may stand on the left: `slice<1>(t, 2, 5) = x`, `+=`, ... write into t's memory.
// Also here: kWritable<E>, the trait write-through extensions use, and RowSplit, the row
// decomposition slice and concat share (concat.h includes this file).
#pragma once

#include <type_traits>
#include <utility>

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename E>
struct IsTensor : std::false_type {};
template <typename Device, int N, typename DType>
struct IsTensor<Tensor<Device, N, DType>> : std::true_type {};

/// Whether E can be written through: a Tensor, or an extension deriving from WriteThrough.
template <typename E>
inline constexpr bool kWritable =
    IsTensor<E>::value || std::is_base_of_v<WriteThrough<E, typename E::DataType>, E>;

/// A row index of rows viewed as (pre, len, inner): y = (pre * len + d) * inner + in, taken
/// apart into pre, d and in. Both divisions are cuda::IndexDiv's (multiply-highs in kernels), and
/// the divisors are kept only there. slice and concat map an output row to a source row with it.
struct RowSplit {
  struct Parts {
    index_t pre, d, in;
  };
  RowSplit() = default;
  /// rows: the number of rows, the largest dividend bound.
  RowSplit(index_t len, index_t inner, index_t rows) : inner_div(inner, rows), len_div(len, rows) {}
  UMBRA_XINLINE Parts operator()(index_t y) const {
    const index_t t = inner_div.Div(y), pre = len_div.Div(t);
    return {pre, t - pre * len_div.d, y - t * inner_div.d};
  }
  UMBRA_XINLINE index_t len() const { return len_div.d; }
  UMBRA_XINLINE index_t inner() const { return inner_div.d; }
  cuda::IndexDiv inner_div, len_div;
};

/// The stream a writable expression writes on (`Stream<Device>*`); void* for read-only ones,
/// which never use it.
template <typename E, bool = kWritable<E>>
struct WriteStream {
  using type = void*;
};
template <typename E>
struct WriteStream<E, true> {
  using type = std::remove_cvref_t<decltype(std::declval<const E&>().stream_)>;
};

/// Base of read-only index mappings that would otherwise derive from WriteThrough.
struct ReadOnly {};

template <typename SrcExp, typename DType, int dim, int sdim>
struct SliceExp
    : public MakeTensorExp<SliceExp<SrcExp, DType, dim, sdim>, SrcExp, dim, DType>,
      public std::conditional_t<kWritable<SrcExp>,
                                WriteThrough<SliceExp<SrcExp, DType, dim, sdim>, DType>, ReadOnly> {
  using WriteBase = std::conditional_t<kWritable<SrcExp>,
                                       WriteThrough<SliceExp<SrcExp, DType, dim, sdim>, DType>,
                                       ReadOnly>;
  SrcExp src_;
  index_t begin_;
  /// Extent of dimension sdim in the source.
  index_t src_len_;
  typename WriteStream<SrcExp>::type stream_ = nullptr;

  SliceExp(const SrcExp& src, const Shape<dim>& src_shape, index_t begin, index_t end)
      : src_(src), begin_(begin), src_len_(src_shape[sdim]) {
    this->shape_ = src_shape;
    this->shape_[sdim] = end - begin;
    if constexpr (kWritable<SrcExp>) stream_ = src.stream_;
  }
  SliceExp(const SliceExp&) = default;
  /// The memory of a slice of a tensor as one region whose element k (row-major) is the slice's
  /// element k, so that reading or writing it is elementwise (alias.h: `slice<1>(t, 0, 3) =
  /// slice<1>(t, 6, 9)` moves disjoint columns). False where it is no one region: a slice of an
  /// expression, or across an inner dimension of a tensor with padded rows.
  bool ExactRegion(Region* r) const {
    if constexpr (!TensorLike<SrcExp>) {
      return false;
    } else {
      const Region s = RegionOf(src_);
      const index_t len = this->shape_[sdim], outer = this->shape_.ProdShape(0, sdim);
      if constexpr (sdim == dim - 1) {
        *r = {s.lo + s.elem * size_t(begin_), this->shape_.ProdShape(0, dim - 1), len, s.stride, s.elem};
        return true;
      }
      if (!s.Contiguous()) return false;
      const index_t inner = this->shape_.ProdShape(sdim + 1, dim);
      *r = {s.lo + s.elem * size_t(begin_ * inner), outer, len * inner, src_len_ * inner, s.elem};
      return true;
    }
  }
  // operator= is declared here, not inherited: the implicit copy assignment would hide
  // WriteThrough's, and `slice = <same type>` must write values, never rebind the view.
  const SliceExp& operator=(const SliceExp& e) const
    requires kWritable<SrcExp>
  {
    return WriteBase::operator=(e);
  }
  template <typename E, int et>
  const SliceExp& operator=(const Exp<E, DType, et>& e) const
    requires kWritable<SrcExp>
  {
    return WriteBase::operator=(e);
  }
  const SliceExp& operator=(DType s) const
    requires kWritable<SrcExp>
  {
    return WriteBase::operator=(s);
  }
};

/// slice<dim>(src, begin, end): src of shape (..., d, ...) restricted to [begin, end) along
/// dimension dim, giving (..., end - begin, ...). Needs 0 <= begin <= end <= d, otherwise
/// umbra::Error naming the range and the source shape. Writable when src is (see file comment);
/// writing must not alias a source of the right-hand side except elementwise at the same place.
template <int dim, typename SrcExp, typename DType, int etype>
inline SliceExp<SrcExp, DType, SrcExp::kDim, dim> slice(const Exp<SrcExp, DType, etype>& src,
                                                        index_t begin, index_t end) {
  constexpr int n = SrcExp::kDim;
  static_assert(n >= 1, "umbra: slice needs a source with a shape (not a scalar)");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  static_assert(dim >= 0 && dim < n, "umbra: slice dimension out of range");
  const Shape<n> s = ShapeCheck<n, SrcExp>::Check(src.self());
  UMBRA_CHECK(0 <= begin && begin <= end && end <= s[dim], "slice<", dim, ">(", begin, ", ", end,
              ") out of range for shape ", s);
  return SliceExp<SrcExp, DType, n, dim>(src.self(), s, begin, end);
}

template <typename SrcExp, typename DType, int dim, int sdim>
class Plan<SliceExp<SrcExp, DType, dim, sdim>> {
 public:
  explicit Plan(const SliceExp<SrcExp, DType, dim, sdim>& e)
      : src_(MakePlan(e.src_)),
        begin_(e.begin_),
        src_len_(e.src_len_),
        rows_(e.shape_[sdim], e.shape_.ProdShape(sdim + 1, dim - 1), e.shape_.ProdShape(0, dim - 1)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    if constexpr (sdim == dim - 1) return src_.Eval(y, x + begin_);
    else return src_.Eval(SrcRow(y), x);
  }
  UMBRA_XINLINE DType& REval(index_t y, index_t x) const {
    if constexpr (sdim == dim - 1) return src_.REval(y, x + begin_);
    else return src_.REval(SrcRow(y), x);
  }

 private:
  // Output row y = (pre * len + d) * inner + in  ->  source row (pre * src_len + begin + d) *
  // inner + in, where inner is the product of the dimensions between sdim and the last.
  UMBRA_XINLINE index_t SrcRow(index_t y) const {
    if constexpr (sdim == 0) {
      return y + begin_ * rows_.inner();
    } else {
      const RowSplit::Parts p = rows_(y);
      return (p.pre * src_len_ + begin_ + p.d) * rows_.inner() + p.in;
    }
  }
  Plan<SrcExp> src_;
  index_t begin_, src_len_;
  RowSplit rows_;  // the output's rows as (pre, len, inner)
};

}  // namespace umbra::expr

namespace umbra {
using expr::slice;
}  // namespace umbra
