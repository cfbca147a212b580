// Softmax and its gradients as functions (not expressions), as in mshadow:
//   Softmax(dst, energy)                 row-wise (N, C), or over dimension 1 of (N, C, L)
//   SoftmaxGrad(dst, src, label)         d cross-entropy / d logits = src - onehot(label)
//   SoftmaxGrad(dst, out, grad_out)      Jacobian-vector product out * (grad_out - <out, grad_out>)
// All of them allow dst to alias an input (in place). CPU: loops per row, OpenMP across rows
// above kParallelThreshold; GPU: a warp per row for (N, C), a thread per (n, l) column for
// (N, C, L). Not here: log-softmax or losses (layers), general reductions (reduce.h).
#pragma once

#include <vector>

#include "umbra/tensor/engine.h"
#include "umbra/tensor/functors.h"

#if UMBRA_CUDA_KERNELS
namespace umbra::cuda {

// kind 0: softmax of a into dst. kind 1: dst = a * (b - sum(a * b)) (a = out, b = grad_out).
// kind 2: dst = a - onehot(b) (b = labels). Rows of (N, C) use one warp each; the columns of
// (N, C, L) one thread each (adjacent threads read adjacent l: coalesced).

/// Napkin: (4096, 1000) fp32 reads 16 MB two or three times (the re-reads of a 4 KB row hit L1)
/// and writes 16 MB: ~10 us on an H200. 8 warps = 8 rows per block.
template <int kind, typename DType>
__global__ void __launch_bounds__(256)
    SoftmaxRowsKernel(DType* dst, index_t ds, const DType* a, index_t as, const DType* b,
                      index_t bs, index_t rows, index_t cols) {
  const index_t y = index_t(blockIdx.x) * 8 + threadIdx.y;
  if (y >= rows) return;  // whole warps leave together: the shuffles below stay full-warp
  const int lane = threadIdx.x;
  const DType* ar = a + y * as;
  const DType* br = b + y * bs;
  DType* dr = dst + y * ds;
  DType m = kind == 0 ? ar[0] : DType(0), s = 0;
  if constexpr (kind == 0) {
    for (index_t x = lane; x < cols; x += 32) m = ar[x] > m ? ar[x] : m;
    for (int o = 16; o > 0; o >>= 1) {
      const DType v = __shfl_xor_sync(0xffffffffu, m, o);
      m = v > m ? v : m;
    }
    for (index_t x = lane; x < cols; x += 32) s += math::Exp(ar[x] - m);
  } else {
    for (index_t x = lane; x < cols; x += 32) s += ar[x] * br[x];
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  const DType inv = DType(1) / s;
  for (index_t x = lane; x < cols; x += 32) {
    if constexpr (kind == 0) dr[x] = math::Exp(ar[x] - m) * inv;
    else dr[x] = ar[x] * (br[x] - s);
  }
}

/// Softmax (kind 0) or its JVP (kind 1) over c of (N, C, L), one thread per (n, l).
/// Napkin: (32, 21, 512*512) fp32 = 700 MB, read three times (max, sum, write passes; the
/// re-reads partly from L2) and written once: 0.6-0.9 ms on an H200 (estimate).
template <int kind, typename DType>
__global__ void __launch_bounds__(256)
    SoftmaxColumnsKernel(DType* dst, index_t ds, const DType* a, index_t as, const DType* b,
                         index_t bs, index_t n, index_t c, index_t l) {
  const index_t step = index_t(gridDim.x) * blockDim.x;
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n * l; i += step) {
    const index_t ni = i / l, li = i - ni * l;
    const DType* ac = a + ni * c * as + li;
    const DType* bc = b + ni * c * bs + li;
    DType* dc = dst + ni * c * ds + li;
    DType m = ac[0], s = 0;
    if constexpr (kind == 0) {
      for (index_t k = 1; k < c; ++k) m = ac[k * as] > m ? ac[k * as] : m;
      for (index_t k = 0; k < c; ++k) s += math::Exp(ac[k * as] - m);
      const DType inv = DType(1) / s;
      for (index_t k = 0; k < c; ++k) dc[k * ds] = math::Exp(ac[k * as] - m) * inv;
    } else {
      for (index_t k = 0; k < c; ++k) s += ac[k * as] * bc[k * bs];
      for (index_t k = 0; k < c; ++k) dc[k * ds] = ac[k * as] * (bc[k * bs] - s);
    }
  }
}

/// dst = src - onehot(label) over the 2-D view (rows, cols) of dst. 2-D: class x, label[y];
/// 3-D (N*C, L) view: class y % C, label (n, x). Labels outside [0, C) add no one-hot.
template <bool k3d, typename DType>
__global__ void __launch_bounds__(256)
    SoftmaxLabelKernel(DType* dst, index_t ds, const DType* src, index_t ss, const DType* label,
                       index_t ls, index_t rows, index_t cols, index_t c) {
  const index_t step = index_t(gridDim.x) * blockDim.x;
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < rows * cols; i += step) {
    const index_t y = i / cols, x = i - y * cols;
    const index_t n = k3d ? y / c : y, cls = k3d ? y - n * c : x;
    const DType lv = k3d ? label[n * ls + x] : label[y];
    const index_t k = lv >= DType(0) && lv < DType(c) ? index_t(lv) : -1;
    dst[y * ds + x] = src[y * ss + x] - (cls == k ? DType(1) : DType(0));
  }
}

}  // namespace umbra::cuda
#endif

namespace umbra::expr {

/// Runs kind 0/1/2 (see the kernels) for 2-D or 3-D tensors on the device. `b` is grad_out
/// (kind 1) or the labels (kind 2; 1-D for 2-D, (N, L) for 3-D).
template <int kind, typename xpu, int dim, int bdim, typename DType>
inline void SoftmaxGPU(const Tensor<xpu, dim, DType>& dst, const Tensor<xpu, dim, DType>& a,
                       const Tensor<xpu, bdim, DType>& b) {
#if UMBRA_CUDA_KERNELS
  const Shape<2> s2 = dst.shape_.FlatTo2D();
  if (s2[0] * s2[1] == 0) return;
  cudaStream_t st = Stream<gpu>::GetStream(dst.stream_);
  if constexpr (kind == 2) {
    const index_t c = dst.shape_[1];
    UMBRA_LAUNCH(cuda::GridFor(s2[0] * s2[1]), 256, 0, st, cuda::SoftmaxLabelKernel<dim == 3>)(
        dst.dptr_, dst.stride_, a.dptr_, a.stride_, b.dptr_, b.stride_, s2[0], s2[1], c);
  } else if constexpr (dim == 2) {
    UMBRA_LAUNCH(unsigned((s2[0] + 7) / 8), dim3(32, 8), 0, st, cuda::SoftmaxRowsKernel<kind>)(
        dst.dptr_, dst.stride_, a.dptr_, a.stride_, b.dptr_, b.stride_, s2[0], s2[1]);
  } else {
    const index_t n = dst.shape_[0], l = dst.shape_[2];
    UMBRA_LAUNCH(cuda::GridFor(n * l), 256, 0, st, cuda::SoftmaxColumnsKernel<kind>)(
        dst.dptr_, dst.stride_, a.dptr_, a.stride_, b.dptr_, b.stride_, n, dst.shape_[1], l);
  }
  UMBRA_CUDA_CHECK(cudaGetLastError());
#else
  static_assert(kDependentFalse<DType>,
                "umbra: Softmax on gpu tensors launches a CUDA kernel and must be compiled by nvcc "
                "(put this code in a .cu file)");
#endif
}

/// CPU kind 0/1 on one row of C contiguous elements (the (N, C) case).
template <int kind, typename DType>
inline void SoftmaxRowCPU(DType* d, const DType* a, const DType* b, index_t c) {
  DType s = 0;
  if constexpr (kind == 0) {
    DType m = a[0];
    for (index_t k = 1; k < c; ++k) m = a[k] > m ? a[k] : m;
    for (index_t k = 0; k < c; ++k) s += (d[k] = math::Exp(a[k] - m));
    const DType inv = DType(1) / s;
    for (index_t k = 0; k < c; ++k) d[k] *= inv;
  } else {
    for (index_t k = 0; k < c; ++k) s += a[k] * b[k];
    for (index_t k = 0; k < c; ++k) d[k] = a[k] * (b[k] - s);
  }
}

/// CPU kind 0/1 over C of (C, L) rows with row strides ds/as/bs (one n of (N, C, L)). Per-l
/// buffers m, s keep every inner loop on unit stride over l, so it vectorises.
template <int kind, typename DType>
inline void SoftmaxBlockCPU(DType* d, index_t ds, const DType* a, index_t as, const DType* b,
                            index_t bs, index_t c, index_t l, DType* m, DType* s) {
  for (index_t j = 0; j < l; ++j) m[j] = a[j], s[j] = 0;
  if constexpr (kind == 0) {
    for (index_t k = 1; k < c; ++k)
      for (index_t j = 0; j < l; ++j) m[j] = a[k * as + j] > m[j] ? a[k * as + j] : m[j];
    for (index_t k = 0; k < c; ++k)
      for (index_t j = 0; j < l; ++j) s[j] += (d[k * ds + j] = math::Exp(a[k * as + j] - m[j]));
    for (index_t j = 0; j < l; ++j) s[j] = DType(1) / s[j];
    for (index_t k = 0; k < c; ++k)
      for (index_t j = 0; j < l; ++j) d[k * ds + j] *= s[j];
  } else {
    for (index_t k = 0; k < c; ++k)
      for (index_t j = 0; j < l; ++j) s[j] += a[k * as + j] * b[k * bs + j];
    for (index_t k = 0; k < c; ++k)
      for (index_t j = 0; j < l; ++j) d[k * ds + j] = a[k * as + j] * (b[k * bs + j] - s[j]);
  }
}

/// Kind 0/1 on cpu or gpu for (N, C) rows or dimension 1 of (N, C, L), after the shape check.
/// Every pass reads its inputs before writing the same element, so dst may alias a or b.
template <int kind, typename xpu, int dim, typename DType>
inline void SoftmaxRun(const char* name, const Tensor<xpu, dim, DType>& dst,
                       const Tensor<xpu, dim, DType>& a, const Tensor<xpu, dim, DType>& b) {
  static_assert(dim == 2 || dim == 3, "umbra: Softmax takes (N, C) or (N, C, L) tensors");
  UMBRA_CHECK(dst.shape_ == a.shape_ && dst.shape_ == b.shape_, name, ": shapes differ: ",
              "destination ", dst.shape_, ", inputs ", a.shape_, " and ", b.shape_);
  if (dst.Size() == 0) return;
  if constexpr (!xpu::kDevCPU) {
    SoftmaxGPU<kind>(dst, a, b);
  } else if constexpr (dim == 2) {
    const index_t n = dst.shape_[0], c = dst.shape_[1];
#pragma omp parallel for schedule(static) if (dst.Size() >= kParallelThreshold)
    for (index_t i = 0; i < n; ++i)
      SoftmaxRowCPU<kind>(dst.dptr_ + i * dst.stride_, a.dptr_ + i * a.stride_,
                          b.dptr_ + i * b.stride_, c);
  } else {
    const index_t n = dst.shape_[0], c = dst.shape_[1], l = dst.shape_[2];
#pragma omp parallel if (dst.Size() >= kParallelThreshold)
    {
      std::vector<DType> m(l), s(l);
#pragma omp for schedule(static)
      for (index_t i = 0; i < n; ++i)
        SoftmaxBlockCPU<kind>(dst.dptr_ + i * c * dst.stride_, dst.stride_,
                              a.dptr_ + i * c * a.stride_, a.stride_,
                              b.dptr_ + i * c * b.stride_, b.stride_, c, l, m.data(), s.data());
    }
  }
}

/// dst = src - onehot(label) for (N, C) with labels (N), or (N, C, L) with labels (N, L).
template <typename xpu, int dim, int ldim, typename DType>
inline void SoftmaxLabelRun(const Tensor<xpu, dim, DType>& dst, const Tensor<xpu, dim, DType>& src,
                            const Tensor<xpu, ldim, DType>& label) {
  Shape<ldim> want;
  want[0] = src.shape_[0];
  if constexpr (dim == 3) want[1] = src.shape_[2];
  UMBRA_CHECK(dst.shape_ == src.shape_ && label.shape_ == want, "SoftmaxGrad: destination ",
              dst.shape_, ", src ", src.shape_, " and label ", label.shape_,
              " do not fit (label must be ", want, ")");
  if (dst.Size() == 0) return;
  if constexpr (!xpu::kDevCPU) {
    SoftmaxGPU<2>(dst, src, label);
  } else {
    const index_t c = src.shape_[1];
    const Shape<2> l2 = label.shape_.FlatTo2D();  // (1, N) or (N, L)
    // Check every label before writing anything, so a bad batch leaves dst untouched.
    for (index_t y = 0; y < l2[0]; ++y)
      for (index_t x = 0; x < l2[1]; ++x) {
        const DType v = label.dptr_[y * label.stride_ + x];
        UMBRA_CHECK(v >= DType(0) && v < DType(c), "SoftmaxGrad: label ", v, " at position ",
                    y * l2[1] + x, " is outside [0, ", c, ") for src ", src.shape_);
      }
    Copy(dst, src);
    for (index_t y = 0; y < l2[0]; ++y)
      for (index_t x = 0; x < l2[1]; ++x) {
        const index_t k = static_cast<index_t>(label.dptr_[y * label.stride_ + x]);
        if constexpr (dim == 2) dst.dptr_[x * dst.stride_ + k] -= DType(1);
        else dst.dptr_[(y * c + k) * dst.stride_ + x] -= DType(1);
      }
  }
}

/// Softmax of each row: dst(n, :) = exp(energy(n, :) - max) / sum (the max keeps exp finite).
/// dst, energy: (N, C), same shape, any row strides; dst may be energy. Statements on gpu
/// tensors must be compiled by nvcc.
template <typename xpu, typename DType>
inline void Softmax(Tensor<xpu, 2, DType> dst, const Tensor<xpu, 2, DType>& energy) {
  SoftmaxRun<0>("Softmax", dst, energy, energy);
}
/// Softmax over dimension 1 of (N, C, L): for each n and l, over c (per-pixel class scores).
template <typename xpu, typename DType>
inline void Softmax(Tensor<xpu, 3, DType> dst, const Tensor<xpu, 3, DType>& energy) {
  SoftmaxRun<0>("Softmax", dst, energy, energy);
}

/// Gradient of cross-entropy w.r.t. the logits: dst = src - onehot(label), src the softmax
/// output (N, C), label (N) holding class indices as DType (truncated to integers). On the CPU
/// a label outside [0, C) throws umbra::Error before anything is written; on the GPU (checking
/// would need a copy back) such a label adds no one-hot: that row of dst is src.
template <typename xpu, typename DType>
inline void SoftmaxGrad(Tensor<xpu, 2, DType> dst, const Tensor<xpu, 2, DType>& src,
                        const Tensor<xpu, 1, DType>& label) {
  SoftmaxLabelRun(dst, src, label);
}
/// The same over dimension 1 of (N, C, L) with labels (N, L).
template <typename xpu, typename DType>
inline void SoftmaxGrad(Tensor<xpu, 3, DType> dst, const Tensor<xpu, 3, DType>& src,
                        const Tensor<xpu, 2, DType>& label) {
  SoftmaxLabelRun(dst, src, label);
}

/// Backward of softmax for any upstream gradient (Jacobian-vector product):
/// dst = out * (grad_out - sum_c(out * grad_out)), the sum per row of (N, C) or per (n, l) of
/// (N, C, L). out is the softmax output; all three tensors have the same shape.
template <typename xpu, int dim, typename DType>
inline void SoftmaxGrad(Tensor<xpu, dim, DType> dst, const Tensor<xpu, dim, DType>& out,
                        const Tensor<xpu, dim, DType>& grad_out) {
  SoftmaxRun<1>("SoftmaxGrad", dst, out, grad_out);
}

}  // namespace umbra::expr

namespace umbra {
using expr::Softmax;
using expr::SoftmaxGrad;
}  // namespace umbra
