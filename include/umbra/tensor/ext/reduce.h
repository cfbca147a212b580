// Reductions over dimensions of an expression.
//   reduce_except_dim<R, dim>(e), sumall_except_dim<dim>(e), sum_rows(e): complex expressions
//   giving a 1-D tensor of length shape[dim] (a bias gradient from (N, C, H, W) is
//   sumall_except_dim<1>(grad)). CPU: blocked, fixed-order loops; GPU: shared-memory tree kernels.
//   reduce_with_axis<R, keepdim>(e, axis), argmax<keepdim>(e, axis): index-mapping (chainer)
//   expressions removing one runtime axis; they compose with elementwise maps in one loop/kernel.
// Not here: the reducers (reducers.h), broadcasting a result back (broadcast.h), softmax.h.
#pragma once

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "umbra/tensor/ext/make_tensor.h"
#include "umbra/tensor/ext/reducers.h"
#if UMBRA_CUDA_KERNELS
#include "umbra/tensor/cuda/allocator.h"
#include "umbra/tensor/cuda/fast_div.h"
#endif

namespace umbra::expr {

/// Result of reduce_except_dim: kComplex, kDim 1; `scale_` multiplies the reduced value.
template <typename Reducer, typename SrcExp, typename DType, int srcdim, int dimkeep>
struct ReduceExceptDimExp
    : public Exp<ReduceExceptDimExp<Reducer, SrcExp, DType, srcdim, dimkeep>, DType, kComplex> {
  static constexpr int kDim = 1;
  static constexpr int kDevMask = SrcExp::kDevMask;
  static constexpr bool kFlat = false;
  SrcExp src_;
  Shape<srcdim> src_shape_;
  DType scale_;
  ReduceExceptDimExp(const SrcExp& src, const Shape<srcdim>& s, DType scale)
      : src_(src), src_shape_(s), scale_(scale) {}
};

/// dst(c) SV= scale * R over every index but `dim` of src(.., c, ..). src: any non-complex
/// expression of rank >= 1 (dim < rank); dst: a 1-D tensor of length shape[dim] (a container is
/// not resized). Every saver works. Sums accumulate in DType in a fixed order (independent of the
/// thread count): blocks of rows, 8 lanes per row, merged in index order. Empty reductions give
/// R's identity (0 for sum, -inf for maximum).
template <typename Reducer, int dim, typename SrcExp, typename DType, int etype>
inline ReduceExceptDimExp<Reducer, SrcExp, DType, SrcExp::kDim, dim> reduce_except_dim(
    const Exp<SrcExp, DType, etype>& src) {
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  static_assert(SrcExp::kDim >= 1 && dim >= 0 && dim < SrcExp::kDim,
                "umbra: reduce_except_dim: dim out of range for the source's rank");
  return ReduceExceptDimExp<Reducer, SrcExp, DType, SrcExp::kDim, dim>(
      src.self(), ShapeCheck<SrcExp::kDim, SrcExp>::Check(src.self()), DType(1));
}
/// reduce_except_dim<red::sum, dim>: e.g. (N, C, H, W) -> (C).
template <int dim, typename SrcExp, typename DType, int etype>
inline auto sumall_except_dim(const Exp<SrcExp, DType, etype>& src) {
  return reduce_except_dim<red::sum, dim>(src);
}
/// (rows, cols) -> (cols): the sum over rows.
template <typename SrcExp, typename DType, int etype>
inline auto sum_rows(const Exp<SrcExp, DType, etype>& src) {
  static_assert(SrcExp::kDim == 2, "umbra: sum_rows needs a 2-D expression");
  return reduce_except_dim<red::sum, 1>(src);
}
/// `s * reduce` and `reduce * s` fold the scale into the reduction.
template <typename R, typename S, typename DType, int sd, int dk>
inline ReduceExceptDimExp<R, S, DType, sd, dk> operator*(
    std::type_identity_t<DType> s, const ReduceExceptDimExp<R, S, DType, sd, dk>& e) {
  return ReduceExceptDimExp<R, S, DType, sd, dk>(e.src_, e.src_shape_, e.scale_ * s);
}
template <typename R, typename S, typename DType, int sd, int dk>
inline ReduceExceptDimExp<R, S, DType, sd, dk> operator*(
    const ReduceExceptDimExp<R, S, DType, sd, dk>& e, std::type_identity_t<DType> s) {
  return ReduceExceptDimExp<R, S, DType, sd, dk>(e.src_, e.src_shape_, e.scale_ * s);
}

/// One row of a plan reduced with 8 independent lanes (vectorisable, fixed order).
template <typename Reducer, typename DType, typename P>
inline DType RowReduce(const P& plan, index_t y, index_t cols) {
  constexpr int kLanes = 8;
  DType lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = Reducer::template Init<DType>();
  index_t x = 0;
  for (; x + kLanes <= cols; x += kLanes)
    for (int l = 0; l < kLanes; ++l) Reducer::Reduce(lane[l], plan.Eval(y, x + l));
  for (; x < cols; ++x) Reducer::Reduce(lane[0], plan.Eval(y, x));
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) Reducer::Merge(lane[l], lane[l + w]);
  return lane[0];
}

/// CPU: res[c] = R over the source, c = index `dimkeep`. The source's 2-D view is
/// (outer * len * rpb, cols) with outer = prod(shape[0, dim)), rpb = prod(shape(dim, last)).
template <typename Reducer, int dimkeep, typename DType, typename SrcExp, int srcdim>
inline std::vector<DType> ReduceExceptDimCPU(const SrcExp& src, const Shape<srcdim>& s) {
  const auto plan = MakePlan(src);
  const index_t cols = s[srcdim - 1], total = s.Size();
  const DType init = Reducer::template Init<DType>();
  if constexpr (dimkeep == srcdim - 1) {
    // Reduce over rows: chunks of kChunk rows accumulate column-wise (unit stride, vectorised),
    // then the chunk partials merge in chunk order.
    constexpr index_t kChunk = 64;
    const index_t rows = s.ProdShape(0, srcdim - 1), nchunk = (rows + kChunk - 1) / kChunk;
    std::vector<DType> part(nchunk * cols), res(cols, init);
#pragma omp parallel for schedule(static) if (total >= kParallelThreshold && nchunk > 1)
    for (index_t b = 0; b < nchunk; ++b) {
      DType* p = part.data() + b * cols;
      for (index_t x = 0; x < cols; ++x) p[x] = init;
      for (index_t y = b * kChunk; y < std::min(rows, (b + 1) * kChunk); ++y) {
#pragma omp simd
        for (index_t x = 0; x < cols; ++x) Reducer::Reduce(p[x], plan.Eval(y, x));
      }
    }
    for (index_t b = 0; b < nchunk; ++b)
      for (index_t x = 0; x < cols; ++x) Reducer::Merge(res[x], part[b * cols + x]);
    return res;
  } else {
    // Rows of one (o, c) pair are contiguous in the 2-D view: reduce each such block, then
    // merge the outer blocks of each c in order.
    const index_t outer = s.ProdShape(0, dimkeep), len = s[dimkeep];
    const index_t rpb = s.ProdShape(dimkeep + 1, srcdim - 1), nblk = outer * len;
    std::vector<DType> part(nblk), res(len, init);
#pragma omp parallel for schedule(static) if (total >= kParallelThreshold)
    for (index_t b = 0; b < nblk; ++b) {
      DType acc = init;
      for (index_t r = 0; r < rpb; ++r)
        Reducer::Merge(acc, RowReduce<Reducer, DType>(plan, b * rpb + r, cols));
      part[b] = acc;
    }
    for (index_t o = 0; o < outer; ++o)
      for (index_t c = 0; c < len; ++c) Reducer::Merge(res[c], part[o * len + c]);
    return res;
  }
}

}  // namespace umbra::expr

#if UMBRA_CUDA_KERNELS
namespace umbra::cuda {

/// Reduce over rows, one block per 32 columns: (32 x 8) threads, a warp reads 32 consecutive
/// columns of a row (coalesced), the 8 row-strided partials meet in a shared-memory tree.
/// Napkin: reads rows*cols*4 B once; (4096, 4096) fp32 = 64 MB in 128 blocks of 8 warps, too
/// few loads in flight for HBM's ~4 TB/s: expect 1-2 TB/s, ~40 us. Few columns mean few blocks
/// (cols=10: one block), so tall-thin inputs are slower still (estimates, not measured).
template <typename Reducer, typename SV, typename P, typename DType>
__global__ void __launch_bounds__(256)
    ReduceRowsKernel(DType* out, P plan, index_t rows, index_t cols, DType scale) {
  __shared__ DType smem[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const index_t x = index_t(blockIdx.x) * 32 + tx;
  DType acc = Reducer::template Init<DType>();
  if (x < cols)
    for (index_t y = ty; y < rows; y += 8) Reducer::Reduce(acc, plan.Eval(y, x));
  smem[ty][tx] = acc;
  __syncthreads();
  for (int h = 4; h > 0; h >>= 1) {
    if (ty < h) Reducer::Merge(smem[ty][tx], smem[ty + h][tx]);
    __syncthreads();
  }
  if (ty == 0 && x < cols) SV::Save(out[x], DType(scale * smem[0][tx]));
}

/// Reduce everything but a middle dimension, stage 1: channel c's outer * rpb * cols elements
/// (a flat index t -> o = t / (rpb * cols), then row r and column x of the 2-D view) are cut into
/// gridDim.y chunks; block (c, s) tree-reduces chunk s into part[c * gridDim.y + s], or, with a
/// single chunk, scales and saves straight into out[c]. Enough blocks to fill the GPU whatever
/// the channel count (one block per channel left a 64-channel BatchNorm on 64 of 132 SMs), and
/// fast divisions instead of 64-bit ones per element.
template <typename Reducer, typename SV, typename P, typename DType>
__global__ void __launch_bounds__(256)
    ReduceGroupPartKernel(DType* out, DType* part, DType scale, P plan, uint32_t n, uint32_t chunk, FastDiv per,
                          FastDiv cols, index_t len, index_t rpb) {
  __shared__ DType smem[256];
  const int tid = threadIdx.x;
  const index_t c = blockIdx.x;
  const uint64_t begin = uint64_t(blockIdx.y) * chunk, end = begin + chunk < n ? begin + chunk : n;
  DType acc = Reducer::template Init<DType>();
  for (uint64_t u = begin + tid; u < end; u += 256) {
    const uint32_t t = uint32_t(u), o = per.Div(t), i = t - o * per.d, r = cols.Div(i);
    Reducer::Reduce(acc, plan.Eval((index_t(o) * len + c) * rpb + r, index_t(i - r * cols.d)));
  }
  smem[tid] = acc;
  __syncthreads();
  for (int h = 128; h > 0; h >>= 1) {
    if (tid < h) Reducer::Merge(smem[tid], smem[tid + h]);
    __syncthreads();
  }
  if (tid != 0) return;
  if (gridDim.y == 1) SV::Save(out[c], DType(scale * smem[0]));
  else part[c * gridDim.y + blockIdx.y] = smem[0];
}

/// Few elements an output (at most kSmallGroup: a softmax's classes per sample): one thread
/// per output reduces its n elements in index order, where a block of 256 threads per output
/// left all but n of them idle and paid a tree of 8 barriers (the per-sample loss of a batch
/// of 256: 65,536 threads for 2,560 elements).
inline constexpr uint32_t kSmallGroup = 64;
template <typename Reducer, typename SV, typename P, typename DType>
__global__ void __launch_bounds__(256)
    ReduceGroupSmallKernel(DType* out, DType scale, P plan, uint32_t n, FastDiv per, FastDiv cols, index_t len,
                           index_t rpb) {
  const index_t c = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= len) return;
  DType acc = Reducer::template Init<DType>();
  for (uint32_t t = 0; t < n; ++t) {
    const uint32_t o = per.Div(t), i = t - o * per.d, r = cols.Div(i);
    Reducer::Reduce(acc, plan.Eval((index_t(o) * len + c) * rpb + r, index_t(i - r * cols.d)));
  }
  SV::Save(out[c], DType(scale * acc));
}

/// Stage 2: one thread per channel merges its `parts` partials in chunk order (a fixed order:
/// the same sum every run), scales and saves.
template <typename Reducer, typename SV, typename DType>
__global__ void __launch_bounds__(256)
    ReduceGroupFinishKernel(DType* out, const DType* part, index_t len, int parts, DType scale) {
  const index_t c = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= len) return;
  DType acc = Reducer::template Init<DType>();
  for (int s = 0; s < parts; ++s) Reducer::Merge(acc, part[c * parts + s]);
  SV::Save(out[c], DType(scale * acc));
}

}  // namespace umbra::cuda
#endif

namespace umbra::expr {

template <typename SV, typename Device, int dd, typename Reducer, typename SrcExp, typename DType,
          int srcdim, int dimkeep>
struct ComplexEngine<SV, Tensor<Device, dd, DType>,
                     ReduceExceptDimExp<Reducer, SrcExp, DType, srcdim, dimkeep>> {
  using E = ReduceExceptDimExp<Reducer, SrcExp, DType, srcdim, dimkeep>;
  static_assert(dd == 1, "umbra: reduce_except_dim gives a 1-D result; its destination must be 1-D");
  static_assert((SrcExp::kDevMask & Device::kDevMask) != 0,
                "umbra: the reduction's source is on another device than the destination");

  static void Eval(Tensor<Device, 1, DType>* dst, const E& e) {
    const Shape<srcdim>& s = e.src_shape_;
    const index_t len = s[dimkeep];
    UMBRA_CHECK(dst->shape_[0] == len, "reduce_except_dim<", dimkeep, ">(", Reducer::kName,
                "): source ", s, " reduces to (", len, ") but the destination is ", dst->shape_);
    // A destination inside the source raced on the GPU where other blocks still read what one
    // had written (sumall_except_dim<0>(m) into m's first row; any source read through an index
    // mapping). The CPU reduces into a vector first and was right; the rule is the same on both
    // devices, so that code moves between them unchanged.
    UMBRA_CHECK(!ReadsFrom(*dst, e.src_, true), "reduce_except_dim<", dimkeep, ">(", Reducer::kName,
                "): the destination ", dst->shape_, " shares memory with the source ", s,
                "; reduce into another tensor");
    if constexpr (Device::kDevCPU) {
      const std::vector<DType> res = ReduceExceptDimCPU<Reducer, dimkeep, DType>(e.src_, s);
      for (index_t c = 0; c < len; ++c) SV::Save(dst->dptr_[c], DType(e.scale_ * res[c]));
    } else {
#if UMBRA_CUDA_KERNELS
      if (len == 0) return;
      cudaStream_t st = Stream<gpu>::GetStream(dst->stream_);
      const index_t cols = s[srcdim - 1];
      if constexpr (dimkeep == srcdim - 1) {
        const index_t rows = s.ProdShape(0, srcdim - 1);
        UMBRA_LAUNCH(unsigned((cols + 31) / 32), dim3(32, 8), 0, st, cuda::ReduceRowsKernel<Reducer, SV>)(
            dst->dptr_, MakePlan(e.src_), rows, cols, e.scale_);
      } else {
        const index_t rpb = s.ProdShape(dimkeep + 1, srcdim - 1), per = rpb * cols;
        const index_t n = s.ProdShape(0, dimkeep) * per;  // elements of one channel
        UMBRA_CHECK(n < (index_t(1) << 32), "reduce_except_dim<", dimkeep, ">(", Reducer::kName,
                    ") on the GPU: source ", s, " has ", n, " elements per output; at most 2^32 - 1");
        // An empty source (n == 0) may have sizes whose 32-bit truncation is 0: divide by 1.
        const cuda::FastDiv per_div(n ? uint32_t(per) : 1u), cols_div(n ? uint32_t(cols) : 1u);
        if (n <= index_t(cuda::kSmallGroup)) {
          UMBRA_LAUNCH(unsigned((len + 255) / 256), 256, 0, st, cuda::ReduceGroupSmallKernel<Reducer, SV>)(
              dst->dptr_, e.scale_, MakePlan(e.src_), uint32_t(n), per_div, cols_div, len, rpb);
          UMBRA_CUDA_CHECK(cudaGetLastError());
          return;
        }
        // About 512 blocks in all (4 per SM on an H200; a fixed count, not the device's, so that
        // every GPU sums in the same order), at least 4096 elements a block.
        const int parts = int(std::max<index_t>(1, std::min<index_t>((512 + len - 1) / len, (n + 4095) / 4096)));
        const uint32_t chunk = uint32_t((n + parts - 1) / parts);
        // The partial sums' scratch: on the thread's default stream from the caching allocator,
        // whose blocks are reused in that stream's order; on another stream from CUDA's
        // stream-ordered pool, allocated and freed in st's own order (no wait for either stream,
        // and legal inside a capture of st, where a wait on st would end the capture).
        const bool own = st != cuda::DefaultStream();
        const size_t bytes = sizeof(DType) * size_t(len) * size_t(parts);
        DType* part = nullptr;
        if (parts > 1 && own) {
          void* p = nullptr;
          UMBRA_CUDA_CHECK(cudaMallocAsync(&p, bytes, st));
          part = static_cast<DType*>(p);
        } else if (parts > 1) {
          part = static_cast<DType*>(cuda::CachingAllocator::Get().Alloc(bytes));
        }
        UMBRA_LAUNCH(dim3(unsigned(len), unsigned(parts)), 256, 0, st, cuda::ReduceGroupPartKernel<Reducer, SV>)(
            dst->dptr_, part, e.scale_, MakePlan(e.src_), uint32_t(n), chunk, per_div, cols_div, len, rpb);
        cudaError_t launched = cudaGetLastError();
        if (part) {
          if (launched == cudaSuccess) {
            UMBRA_LAUNCH(unsigned((len + 255) / 256), 256, 0, st, cuda::ReduceGroupFinishKernel<Reducer, SV>)(
                dst->dptr_, part, len, parts, e.scale_);
            launched = cudaGetLastError();
          }
          if (own) {
            const cudaError_t freed = cudaFreeAsync(part, st);
            if (launched == cudaSuccess) launched = freed;  // the first error is the one to name
          } else {
            cuda::CachingAllocator::Get().Free(part);
          }
        }
        UMBRA_CUDA_CHECK(launched);
      }
      UMBRA_CUDA_CHECK(cudaGetLastError());
#else
      static_assert(kDependentFalse<E>,
                    "umbra: reductions on gpu tensors launch a CUDA kernel and must be compiled by "
                    "nvcc (put this code in a .cu file)");
#endif
    }
  }
};

/// Tag for reduce_with_axis: the index of the first maximum along the axis, as DType.
struct ArgMaxTag {
  static constexpr const char* kName = "argmax";
};

/// Result of reduce_with_axis / argmax: the source with one axis reduced away (or kept as 1).
template <typename Reducer, typename SrcExp, typename DType, int srcdim, int dstdim>
struct ReduceAxisExp : public MakeTensorExp<ReduceAxisExp<Reducer, SrcExp, DType, srcdim, dstdim>,
                                            SrcExp, dstdim, DType> {
  SrcExp src_;
  Shape<srcdim> src_shape_;
  int axis_;
  ReduceAxisExp(const SrcExp& src, const Shape<srcdim>& s, int axis, const Shape<dstdim>& out)
      : src_(src), src_shape_(s), axis_(axis) {
    this->shape_ = out;
  }
};

/// out(i0, .., i_{a-1}, i_{a+1}, ..) = R over k of src(i0, .., k, ..), a = axis (negative counts
/// from the end). keepdim keeps the axis with size 1. A chainer: each output element loops over
/// the axis, so `out = reduce_with_axis<red::maximum>(x, 1) * 2.f + b` is one loop or kernel;
/// out must not alias src. Errors: axis out of range (names the source shape).
template <typename Reducer, bool keepdim = false, typename SrcExp, typename DType, int etype>
inline auto reduce_with_axis(const Exp<SrcExp, DType, etype>& src, int axis) {
  constexpr int sd = SrcExp::kDim, dd = keepdim ? sd : sd - 1;
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  static_assert(sd >= 1 && dd >= 1, "umbra: reduce_with_axis of a 1-D source needs keepdim");
  const Shape<sd> s = ShapeCheck<sd, SrcExp>::Check(src.self());
  const int a = axis < 0 ? axis + sd : axis;
  UMBRA_CHECK(a >= 0 && a < sd, Reducer::kName, " over axis ", axis,
              ": out of range for source shape ", s);
  if constexpr (std::is_same_v<Reducer, ArgMaxTag>) {
    UMBRA_CHECK(s[a] > 0, "argmax over axis ", axis, " of source shape ", s, ": the axis is empty");
    // The index is a DType: past 2^digits (2^24 for float, 2^8 for bf16; 2^digits - 1 for an
    // integer type) one rounds to a neighbour's or wraps, a silent wrong answer.
    using L = std::numeric_limits<DType>;
    constexpr int digits = L::is_specialized ? L::digits : 8;
    constexpr index_t exact = (index_t(1) << std::min(digits, 62)) - (L::is_integer ? 1 : 0);
    UMBRA_CHECK(s[a] - 1 <= exact, "argmax over axis ", axis, " of source shape ", s, ": its indices past ", exact,
                " are not exact in the source's type; reduce in double");
  }
  Shape<dd> out;
  for (int i = 0, j = 0; i < sd; ++i) {
    if (i != a) out[j++] = s[i];
    else if (keepdim) out[j++] = 1;
  }
  return ReduceAxisExp<Reducer, SrcExp, DType, sd, dd>(src.self(), s, a, out);
}
/// Index (as DType) of the first maximum along `axis`; comparisons with NaN are false.
template <bool keepdim = false, typename SrcExp, typename DType, int etype>
inline auto argmax(const Exp<SrcExp, DType, etype>& src, int axis) {
  return reduce_with_axis<ArgMaxTag, keepdim>(src, axis);
}

template <typename Reducer, typename SrcExp, typename DType, int srcdim, int dstdim>
class Plan<ReduceAxisExp<Reducer, SrcExp, DType, srcdim, dstdim>> {
 public:
  // Output flat index f = (o, i) with i < inner = prod(shape after axis). Reducing the last axis
  // walks source row o; otherwise inner is a whole number `rpb` of source rows, and element k of
  // the axis sits k * rpb rows below k = 0: no division inside the loop.
  explicit Plan(const ReduceAxisExp<Reducer, SrcExp, DType, srcdim, dstdim>& e)
      : src_(MakePlan(e.src_)),
        ocols_(e.shape_[dstdim - 1]),
        len_(e.src_shape_[e.axis_]),
        inner_(e.src_shape_.ProdShape(e.axis_ + 1, srcdim)),
        scols_(e.src_shape_[srcdim - 1]),
        last_(e.axis_ == srcdim - 1) {
    rpb_ = last_ || scols_ == 0 ? 1 : inner_ / scols_;
  }
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    const index_t f = y * ocols_ + x;
    index_t sy = f, sx = 0, dy = 0, dx = 1;
    if (!last_) {
      const index_t o = f / inner_, i = f - o * inner_;
      sy = o * len_ * rpb_ + i / scols_, sx = i % scols_, dy = rpb_, dx = 0;
    }
    if constexpr (std::is_same_v<Reducer, ArgMaxTag>) {
      index_t best = 0;
      DType bv = src_.Eval(sy, sx);
      for (index_t k = 1; k < len_; ++k) {
        const DType v = src_.Eval(sy + k * dy, sx + k * dx);
        if (v > bv) bv = v, best = k;
      }
      return DType(best);
    } else {
      DType acc = Reducer::template Init<DType>();
      for (index_t k = 0; k < len_; ++k) Reducer::Reduce(acc, src_.Eval(sy + k * dy, sx + k * dx));
      return acc;
    }
  }

 private:
  Plan<SrcExp> src_;
  index_t ocols_, len_, inner_, scols_, rpb_ = 1;
  bool last_;
};

}  // namespace umbra::expr

namespace umbra {
using expr::argmax;
using expr::reduce_except_dim;
using expr::reduce_with_axis;
using expr::sum_rows;
using expr::sumall_except_dim;
}  // namespace umbra
