// broadcast<dim>(src, shape): a 1-D tensor of length shape[dim] repeated along every other
// dimension of `shape` (a bias added to every row, or to every pixel of a channel).
// repmat(src, nrow): a 1-D tensor of length n as every row of an (nrow, n) matrix.
// Index mapping: output (y, x) of the 2-D view reads src[(flat index / inner) % len], where
// inner is the product of the dimensions after `dim`. On the GPU a broadcast among contiguous
// tensors takes the flat paths (FlatOnGPU): a batch norm's pass over (N, C, H, W) or a
// channels-last (rows, C) moves 16 bytes a tensor per access where its 2-D path moved 4 a
// thread at a time (about half an H200's bandwidth by the napkin in bench/RESULTS.md). A pack of 4 elements is
// one channel's (inner % 4 == 0) or 4 channels' (inner 1, len % 4 == 0); other shapes take the
// scalar flat path. CPU loops keep the 2-D path, which hoists the index out of a row.
#pragma once

#include <algorithm>

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::cuda {
/// Broadcasts on the GPU's flat paths (the default). Off, they take the 2-D path as before
/// 2026-12-05: bench_gpu's A/B rows (`BM_Broadcast/LAYOUT/2d`) and tests set it.
inline bool& BroadcastFlat() {
  static bool on = true;
  return on;
}
}  // namespace umbra::cuda

namespace umbra::expr {

template <typename SrcExp, typename DType, int dimdst, int dimcast>
struct BroadcastExp
    : public MakeTensorExp<BroadcastExp<SrcExp, DType, dimdst, dimcast>, SrcExp, dimdst, DType> {
  SrcExp src_;
  BroadcastExp(const SrcExp& src, const Shape<dimdst>& shape) : src_(src) { this->shape_ = shape; }
};

template <int dimcast, typename SrcExp, typename DType, int etype, int dimdst>
inline BroadcastExp<SrcExp, DType, dimdst, dimcast> broadcast(const Exp<SrcExp, DType, etype>& src,
                                                              const Shape<dimdst>& shape) {
  static_assert(SrcExp::kDim == 1, "umbra: broadcast source must be 1-D");
  static_assert(dimcast >= 0 && dimcast < dimdst, "umbra: broadcast dimension out of range");
  const Shape<1> s = ShapeCheck<1, SrcExp>::Check(src.self());
  UMBRA_CHECK(s[0] == shape[dimcast], "broadcast<", dimcast, ">: source length ", s[0],
              " does not match dimension ", dimcast, " of target shape ", shape);
  return BroadcastExp<SrcExp, DType, dimdst, dimcast>(src.self(), shape);
}

/// Each of nrow rows is a copy of the 1-D src.
template <typename SrcExp, typename DType, int etype>
inline BroadcastExp<SrcExp, DType, 2, 1> repmat(const Exp<SrcExp, DType, etype>& src, index_t nrow) {
  const Shape<1> s = ShapeCheck<1, SrcExp>::Check(src.self());
  return broadcast<1>(src, Shape2(nrow, s[0]));
}

template <typename SrcExp, typename DType, int dimdst, int dimcast>
class Plan<BroadcastExp<SrcExp, DType, dimdst, dimcast>> {
 public:
  explicit Plan(const BroadcastExp<SrcExp, DType, dimdst, dimcast>& e)
      : src_(MakePlan(e.src_)),
        rows_per_(e.shape_.ProdShape(dimcast + 1, dimdst - 1)),
        len_(e.shape_[dimcast]),
        inner_(e.shape_.ProdShape(dimcast + 1, dimdst)),
        flat_inner_(std::max<index_t>(inner_, 1), e.shape_.Size()),
        flat_len_(std::max<index_t>(len_, 1), e.shape_.Size()) {
    // Rows of the 2-D view below 2^32 (every tensor short of 16 GiB of floats a column): the
    // divisions by multiplication, which a GPU kernel pays per element (CPU loops hoist it).
    if constexpr (dimcast != dimdst - 1) {
      constexpr index_t k32 = index_t(1) << 32;
      fast_ = e.shape_.ProdShape(0, dimdst - 1) < k32 && rows_per_ > 0 && rows_per_ < k32 && len_ > 0 && len_ < k32;
      if (fast_) {
        rows_div_ = cuda::FastDiv(uint32_t(rows_per_));
        len_div_ = cuda::FastDiv(uint32_t(len_));
      }
    }
  }
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    if constexpr (dimcast == dimdst - 1) {
      return src_.Eval(0, x);  // the last dimension: the column is the index
    } else {
      // Any other dimension is constant along a row of the 2-D view: the index depends on y
      // alone (rows_per_ rows of the view share it), so loops hoist it out of the row.
      if (fast_) {
        const uint32_t q = rows_div_.Div(uint32_t(y));
        return src_.Eval(0, index_t(q - len_div_.Div(q) * len_div_.d));
      }
      return src_.Eval(0, (y / rows_per_) % len_);
    }
  }
  // The GPU's flat paths (FlatOnGPU; FlatCheck and PackCheck below say when).
  UMBRA_XINLINE DType EvalFlat(index_t i) const { return src_.EvalFlat(Channel(i)); }
  UMBRA_XINLINE Pack4<DType> EvalPack(index_t i) const
    requires HasPack<Plan<SrcExp>>
  {
    if (inner_ == 1) return src_.EvalPack(Channel(4 * i) / 4);  // 4 channels, the first a multiple of 4
    const DType v = src_.EvalFlat(Channel(4 * i));               // one channel's 4 values
    return {{v, v, v, v}};
  }

 private:
  // (i / inner) % len; the quotient is at most the size.
  UMBRA_XINLINE index_t Channel(index_t i) const {
    const index_t q = flat_inner_.Div(i);
    return q - flat_len_.Div(q) * len_;
  }
  Plan<SrcExp> src_;
  index_t rows_per_, len_, inner_;
  bool fast_ = false;
  cuda::FastDiv rows_div_, len_div_;
  cuda::IndexDiv flat_inner_, flat_len_;
};

template <typename SrcExp, typename DType, int dimdst, int dimcast>
struct FlatOnGPU<BroadcastExp<SrcExp, DType, dimdst, dimcast>> {
  static constexpr bool value = FlatOnGPU<SrcExp>::value;
};
template <typename SrcExp, typename DType, int dimdst, int dimcast>
struct FlatCheck<BroadcastExp<SrcExp, DType, dimdst, dimcast>> {
  static bool Check(const BroadcastExp<SrcExp, DType, dimdst, dimcast>& e) {
    return cuda::BroadcastFlat() && FlatCheck<SrcExp>::Check(e.src_);
  }
};
// A pack's 4 values share a channel, or are 4 channels from a multiple of 4 (then one Pack4 of
// the source, which must be aligned).
template <typename SrcExp, typename DType, int dimdst, int dimcast>
struct PackCheck<BroadcastExp<SrcExp, DType, dimdst, dimcast>> {
  static bool Check(const BroadcastExp<SrcExp, DType, dimdst, dimcast>& e) {
    const index_t inner = e.shape_.ProdShape(dimcast + 1, dimdst);
    return inner % 4 == 0 || (inner == 1 && e.shape_[dimcast] % 4 == 0 && PackCheck<SrcExp>::Check(e.src_));
  }
};

}  // namespace umbra::expr

namespace umbra {
using expr::broadcast;
using expr::repmat;
}  // namespace umbra
