// Spatial and channel pooling as index-mapping expressions, with their gradients in gather form:
//   pool<R>(src, pshape, ky, kx, sy, sx[, pad_y, pad_x])   windows over the last two dims
//   unpool<R>(src, pooled, grad, ky, kx, sy, sx[, pad_y, pad_x])   d loss / d src of pool
//   chpool<R>(src, nsize) / ch_unpool<R>(src, pooled, grad, nsize)   across channels (LRN)
// R is a reducer of ext/reducers.h (red::sum, red::maximum). Not here: the pooling/LRN layers
// (src/nn/layers/), im2col (ext/patch2col.h). Every gradient is a gather (each input element
// visits the outputs that read it), so all four run through the generic loop/kernel, no atomics.
#pragma once

#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/ext/make_tensor.h"
#include "umbra/tensor/ext/reducers.h"

namespace umbra {

/// Pooled size of one axis of extent `in` for window k, stride s, padding p (both sides).
/// Floor mode (Caffe's convolution rule): (in + 2p - k)/s + 1, needs in + 2p >= k.
/// Ceil mode (cxxnet/Caffe pooling): windows until the input is covered, the last one starting
/// inside the image or its leading pad: min(in + 2p - k + s - 1, in + p - 1)/s + 1, at least 1;
/// with p = 0 this is cxxnet's min(H - k + s - 1, H - 1)/s + 1. Windows past the edge are clipped.
inline index_t PoolOutSize(index_t in, index_t k, index_t s, bool ceil_mode, index_t p = 0) {
  UMBRA_CHECK(in >= 1 && k >= 1 && s >= 1 && p >= 0 && p < k, "PoolOutSize: invalid input ", in,
              ", kernel ", k, ", stride ", s, ", pad ", p);
  const index_t span = in + 2 * p - k;
  if (!ceil_mode) {
    UMBRA_CHECK(span >= 0, "PoolOutSize: input ", in, " with pad ", p, " is smaller than kernel ",
                k);
    return span / s + 1;
  }
  const index_t last = span > 0 ? span + s - 1 : 0;
  return (last < in + p - 1 ? last : in + p - 1) / s + 1;
}

namespace expr {

/// Shared checks of pool/unpool: every window must cover at least one real pixel, which is
/// what keeps max pooling from ever returning its -inf identity.
inline void CheckPoolWindow(const char* who, index_t in, index_t out, index_t k, index_t s,
                            index_t p, const char* axis) {
  UMBRA_CHECK(k >= 1 && s >= 1 && p >= 0 && p < k, who, ": invalid ", axis, " window: kernel ",
              k, ", stride ", s, ", pad ", p);
  UMBRA_CHECK(out >= 1 && (out - 1) * s - p < in, who, ": ", out, " outputs along ", axis,
              " leave the last window outside an input of ", in, " (kernel ", k, ", stride ", s,
              ", pad ", p, ")");
}

/// Window geometry along y and x; also carried into the Plans.
struct PoolWin {
  index_t ky, kx, sy, sx, py, px;
};

template <typename Reducer, typename SrcExp, typename DType, int dim>
struct PoolingExp : public MakeTensorExp<PoolingExp<Reducer, SrcExp, DType, dim>, SrcExp, dim, DType> {
  SrcExp src_;
  PoolWin win_;
  index_t h_, w_;
  PoolingExp(const SrcExp& src, const Shape<2>& pshape, const PoolWin& win) : src_(src), win_(win) {
    const Shape<dim> s = ShapeCheck<dim, SrcExp>::Check(src);
    h_ = s[dim - 2], w_ = s[dim - 1];
    CheckPoolWindow("pool", h_, pshape[0], win.ky, win.sy, win.py, "y");
    CheckPoolWindow("pool", w_, pshape[1], win.kx, win.sx, win.px, "x");
    this->shape_ = s;
    this->shape_[dim - 2] = pshape[0], this->shape_[dim - 1] = pshape[1];
  }
};

/// Pools windows of (ky, kx) at strides (sy, sx) over the last two dims of src (..., H, W); the
/// output is (..., pshape[0], pshape[1]) — pshape is explicit, see PoolOutSize. Window (oy, ox)
/// covers rows [oy*sy - pad_y, oy*sy - pad_y + ky) clipped to [0, H) (same for x): padded and
/// overhanging cells are skipped, i.e. ignored by max and 0 for sum. Average pooling is
/// `pool<red::sum>(...) * (1.0f / (ky * kx))`, dividing by the full window as cxxnet did, border
/// windows included. Fails when a window is empty (pshape too large, pad >= kernel).
template <typename Reducer, typename SrcExp, typename DType, int etype>
inline PoolingExp<Reducer, SrcExp, DType, SrcExp::kDim> pool(
    const Exp<SrcExp, DType, etype>& src, const Shape<2>& pshape, index_t ky, index_t kx,
    index_t sy, index_t sx, index_t pad_y = 0, index_t pad_x = 0) {
  static_assert(SrcExp::kDim >= 2, "umbra: pool needs at least (H, W)");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  return PoolingExp<Reducer, SrcExp, DType, SrcExp::kDim>(src.self(), pshape,
                                                          PoolWin{ky, kx, sy, sx, pad_y, pad_x});
}

template <typename Reducer, typename SrcExp, typename DType, int dim>
class Plan<PoolingExp<Reducer, SrcExp, DType, dim>> {
 public:
  explicit Plan(const PoolingExp<Reducer, SrcExp, DType, dim>& e)
      : src_(MakePlan(e.src_)), w_(e.win_), h_(e.h_), wd_(e.w_), oh_(e.shape_[dim - 2]),
        oh_div_(oh_, e.shape_.ProdShape(0, dim - 1)) {}
  // y = plane*oh + oy, x = ox. Napkin: ky*kx reads per output, one division per output (a
  // multiplication where the rows fit in 32 bits).
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    const index_t plane = oh_div_.Div(y), oy = y - plane * oh_;
    index_t y0 = oy * w_.sy - w_.py, x0 = x * w_.sx - w_.px;
    const index_t y1 = y0 + w_.ky < h_ ? y0 + w_.ky : h_;
    const index_t x1 = x0 + w_.kx < wd_ ? x0 + w_.kx : wd_;
    y0 = y0 > 0 ? y0 : 0, x0 = x0 > 0 ? x0 : 0;
    DType acc = Reducer::template Init<DType>();
    for (index_t h = y0; h < y1; ++h)
      for (index_t w = x0; w < x1; ++w) Reducer::Reduce(acc, src_.Eval(plane * h_ + h, w));
    return acc;
  }

 private:
  Plan<SrcExp> src_;
  PoolWin w_;
  index_t h_, wd_, oh_;
  cuda::IndexDiv oh_div_;
};

template <typename Reducer, typename SrcExp, typename PooledExp, typename GradExp, typename DType,
          int dim>
struct UnPoolingExp
    : public MakeTensorExp<UnPoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, dim>, SrcExp,
                           dim, DType> {
  SrcExp src_;
  PooledExp pooled_;
  GradExp grad_;
  PoolWin win_;
  index_t h_, wd_, oh_, ow_;
  UnPoolingExp(const SrcExp& src, const PooledExp& pooled, const GradExp& grad, const PoolWin& win)
      : src_(src), pooled_(pooled), grad_(grad), win_(win) {
    const Shape<dim> s = ShapeCheck<dim, SrcExp>::Check(src);
    const Shape<dim> ps = ShapeCheck<dim, PooledExp>::Check(pooled);
    const Shape<dim> gs = ShapeCheck<dim, GradExp>::Check(grad);
    UMBRA_CHECK(ps == gs, "unpool: pooled data ", ps, " and pooled gradient ", gs, " differ");
    Shape<dim> want = s;
    want[dim - 2] = ps[dim - 2], want[dim - 1] = ps[dim - 1];
    UMBRA_CHECK(ps == want, "unpool: pooled data ", ps, " does not pool input ", s);
    CheckPoolWindow("unpool", s[dim - 2], ps[dim - 2], win.ky, win.sy, win.py, "y");
    CheckPoolWindow("unpool", s[dim - 1], ps[dim - 1], win.kx, win.sx, win.px, "x");
    h_ = s[dim - 2], wd_ = s[dim - 1], oh_ = ps[dim - 2], ow_ = ps[dim - 1];
    this->shape_ = s;
  }
};

/// Gradient of pool<R> w.r.t. its input: src (..., H, W) the pool input, pooled (..., oh, ow)
/// its output, grad (..., oh, ow) d loss / d pooled; result shaped like src, element
/// sum over windows (oy, ox) containing it of grad[oy, ox] * R::PartialGrad(pooled[oy, ox], src)
/// (for max: the window's first input, in row-major order, equal to its max gets the gradient;
/// later ties get none, as in cuDNN, Caffe and PyTorch). The window arguments must be those
/// given to pool. Fails on mismatched shapes or empty windows.
template <typename Reducer, typename SrcExp, typename PooledExp, typename GradExp, typename DType,
          int e1, int e2, int e3>
inline UnPoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, SrcExp::kDim> unpool(
    const Exp<SrcExp, DType, e1>& src, const Exp<PooledExp, DType, e2>& pooled,
    const Exp<GradExp, DType, e3>& grad, index_t ky, index_t kx, index_t sy, index_t sx,
    index_t pad_y = 0, index_t pad_x = 0) {
  static_assert(SrcExp::kDim >= 2 && PooledExp::kDim == SrcExp::kDim &&
                    GradExp::kDim == SrcExp::kDim,
                "umbra: unpool operands need the same number (>= 2) of dimensions");
  static_assert(e1 != kComplex && e2 != kComplex && e3 != kComplex,
                "umbra: evaluate dot()/reductions into a tensor first");
  return UnPoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, SrcExp::kDim>(
      src.self(), pooled.self(), grad.self(), PoolWin{ky, kx, sy, sx, pad_y, pad_x});
}

template <typename Reducer, typename SrcExp, typename PooledExp, typename GradExp, typename DType,
          int dim>
class Plan<UnPoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, dim>> {
 public:
  explicit Plan(const UnPoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, dim>& e)
      : src_(MakePlan(e.src_)), pooled_(MakePlan(e.pooled_)), grad_(MakePlan(e.grad_)),
        w_(e.win_), h_(e.h_), wd_(e.wd_), oh_(e.oh_), ow_(e.ow_),
        h_div_(h_, e.shape_.ProdShape(0, dim - 1)),
        // Range's dividends: below the padded coordinate plus the stride.
        sy_div_(w_.sy, h_ + w_.py + w_.sy), sx_div_(w_.sx, wd_ + w_.px + w_.sx) {}
  // y = plane*H + h, x = w. Windows oy with oy*sy - py <= h < oy*sy - py + ky; the range costs
  // four divisions per pixel (multiplications where the indices fit in 32 bits), then
  // ceil(ky/sy)*ceil(kx/sx) window visits.
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    const index_t plane = h_div_.Div(y), h = y - plane * h_;
    index_t oy0, oy1, ox0, ox1;
    Range(h + w_.py, w_.ky, sy_div_, oh_, &oy0, &oy1);
    Range(x + w_.px, w_.kx, sx_div_, ow_, &ox0, &ox1);
    const DType v = src_.Eval(y, x);
    DType sum = DType(0);
    for (index_t oy = oy0; oy <= oy1; ++oy)
      for (index_t ox = ox0; ox <= ox1; ++ox) {
        const index_t r = plane * oh_ + oy;
        const DType m = pooled_.Eval(r, ox);
        DType pg = Reducer::PartialGrad(m, v);
        if constexpr (Reducer::kFirstOnly) {
          if (pg != DType(0) && EarlierInWindow(plane, oy, ox, h, x, m)) pg = DType(0);
        }
        if (pg != DType(0)) sum += grad_.Eval(r, ox) * pg;  // not grad * 0: an infinite grad gave NaN
      }
    return sum;
  }

 private:
  // Whether window (oy, ox) holds m before input (h, x) in row-major order (rows of the window
  // above h, then row h left of x; the window clipped to the image), as PartialGrad matches it
  // (a NaN maximum matches a NaN, which == never does).
  UMBRA_XINLINE bool EarlierInWindow(index_t plane, index_t oy, index_t ox, index_t h, index_t x, DType m) const {
    const index_t y0 = oy * w_.sy - w_.py, x0 = ox * w_.sx - w_.px;
    const index_t r0 = y0 > 0 ? y0 : 0, c0 = x0 > 0 ? x0 : 0, c1 = x0 + w_.kx < wd_ ? x0 + w_.kx : wd_;
    for (index_t r = r0; r <= h; ++r) {
      const index_t end = r < h ? c1 : x;
      for (index_t c = c0; c < end; ++c)
        if (Reducer::PartialGrad(m, src_.Eval(plane * h_ + r, c)) != DType(0)) return true;  // NaN too
    }
    return false;
  }
  // Outputs o in [0, out) with o*s <= q < o*s + k, q = padded coordinate (>= 0).
  UMBRA_XINLINE static void Range(index_t q, index_t k, const cuda::IndexDiv& s, index_t out, index_t* lo,
                                  index_t* hi) {
    const index_t first = q - k + 1, last = s.Div(q);
    *lo = first > 0 ? s.Div(first + s.d - 1) : 0;
    *hi = last < out - 1 ? last : out - 1;
  }
  Plan<SrcExp> src_;
  Plan<PooledExp> pooled_;
  Plan<GradExp> grad_;
  PoolWin w_;
  index_t h_, wd_, oh_, ow_;
  cuda::IndexDiv h_div_, sy_div_, sx_div_;
};

template <typename Reducer, typename SrcExp, typename DType, int dim>
struct ChannelPoolingExp
    : public MakeTensorExp<ChannelPoolingExp<Reducer, SrcExp, DType, dim>, SrcExp, dim, DType> {
  SrcExp src_;
  index_t nsize_;
  ChannelPoolingExp(const SrcExp& src, index_t nsize) : src_(src), nsize_(nsize) {
    this->shape_ = ShapeCheck<dim, SrcExp>::Check(src);
    UMBRA_CHECK(nsize >= 1 && nsize % 2 == 1, "chpool: channel window ", nsize,
                " must be odd and positive, for input ", this->shape_);
  }
};

template <typename Reducer, typename SrcExp, typename PooledExp, typename GradExp, typename DType,
          int dim>
struct ChannelUnpoolingExp
    : public MakeTensorExp<ChannelUnpoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, dim>,
                           SrcExp, dim, DType> {
  SrcExp src_;
  PooledExp pooled_;
  GradExp grad_;
  index_t nsize_;
  ChannelUnpoolingExp(const SrcExp& src, const PooledExp& pooled, const GradExp& grad,
                      index_t nsize)
      : src_(src), pooled_(pooled), grad_(grad), nsize_(nsize) {
    this->shape_ = ShapeCheck<dim, SrcExp>::Check(src);
    const Shape<dim> ps = ShapeCheck<dim, PooledExp>::Check(pooled);
    const Shape<dim> gs = ShapeCheck<dim, GradExp>::Check(grad);
    UMBRA_CHECK(ps == this->shape_ && gs == this->shape_, "ch_unpool: input ", this->shape_,
                ", pooled ", ps, " and gradient ", gs, " must have one shape");
    UMBRA_CHECK(nsize >= 1 && nsize % 2 == 1, "ch_unpool: channel window ", nsize,
                " must be odd and positive, for input ", this->shape_);
  }
};

/// Channel pooling over dim kDim-3 of src ((N, C, H, W) or (C, H, W); more leading dims fold
/// into N): out[n, c, h, w] = R over channels c - nsize/2 .. c + nsize/2 clipped to [0, C).
/// nsize must be odd (an error otherwise). LRN's norm is chpool<red::sum>(F<op::square>(x), n).
template <typename Reducer, typename SrcExp, typename DType, int etype>
inline ChannelPoolingExp<Reducer, SrcExp, DType, SrcExp::kDim> chpool(
    const Exp<SrcExp, DType, etype>& src, index_t nsize) {
  static_assert(SrcExp::kDim >= 3, "umbra: chpool needs (C, H, W) or (N, C, H, W)");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  return ChannelPoolingExp<Reducer, SrcExp, DType, SrcExp::kDim>(src.self(), nsize);
}

/// Gradient of chpool<R> w.r.t. its input: src, pooled = chpool<R>(src, nsize) and grad
/// (d loss / d pooled) share one shape, the result's; element (n, c, h, w) is the sum over
/// channels c' within nsize/2 of c of grad[n, c', h, w] * R::PartialGrad(pooled[n, c', h, w], src).
template <typename Reducer, typename SrcExp, typename PooledExp, typename GradExp, typename DType,
          int e1, int e2, int e3>
inline ChannelUnpoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, SrcExp::kDim> ch_unpool(
    const Exp<SrcExp, DType, e1>& src, const Exp<PooledExp, DType, e2>& pooled,
    const Exp<GradExp, DType, e3>& grad, index_t nsize) {
  static_assert(SrcExp::kDim >= 3 && PooledExp::kDim == SrcExp::kDim &&
                    GradExp::kDim == SrcExp::kDim,
                "umbra: ch_unpool operands are (C, H, W) or (N, C, H, W), all alike");
  static_assert(e1 != kComplex && e2 != kComplex && e3 != kComplex,
                "umbra: evaluate dot()/reductions into a tensor first");
  return ChannelUnpoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, SrcExp::kDim>(
      src.self(), pooled.self(), grad.self(), nsize);
}

/// The clipped channel window of chpool and ch_unpool (the same set, the window being
/// symmetric). y = (n*C + c)*H + h; channel c' of the same (n, h) is row base + c'*H.
struct ChannelWindow {
  index_t c_, h_, half_;
  UMBRA_XINLINE index_t Get(index_t y, index_t* c0, index_t* c1) const {
    const index_t c = (y / h_) % c_;
    *c0 = c - half_ > 0 ? c - half_ : 0;
    *c1 = c + half_ < c_ - 1 ? c + half_ : c_ - 1;
    return y - c * h_;
  }
};

template <typename Reducer, typename SrcExp, typename DType, int dim>
class Plan<ChannelPoolingExp<Reducer, SrcExp, DType, dim>> {
 public:
  explicit Plan(const ChannelPoolingExp<Reducer, SrcExp, DType, dim>& e)
      : src_(MakePlan(e.src_)), win_{e.shape_[dim - 3], e.shape_[dim - 2], e.nsize_ / 2} {}
  // Napkin: nsize reads and two divisions per element.
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    index_t c0, c1;
    const index_t base = win_.Get(y, &c0, &c1);
    DType acc = Reducer::template Init<DType>();
    for (index_t k = c0; k <= c1; ++k) Reducer::Reduce(acc, src_.Eval(base + k * win_.h_, x));
    return acc;
  }

 private:
  Plan<SrcExp> src_;
  ChannelWindow win_;
};

template <typename Reducer, typename SrcExp, typename PooledExp, typename GradExp, typename DType,
          int dim>
class Plan<ChannelUnpoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, dim>> {
 public:
  explicit Plan(const ChannelUnpoolingExp<Reducer, SrcExp, PooledExp, GradExp, DType, dim>& e)
      : src_(MakePlan(e.src_)), pooled_(MakePlan(e.pooled_)), grad_(MakePlan(e.grad_)),
        win_{e.shape_[dim - 3], e.shape_[dim - 2], e.nsize_ / 2} {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    index_t c0, c1;
    const index_t base = win_.Get(y, &c0, &c1);
    const DType v = src_.Eval(y, x);
    DType sum = DType(0);
    for (index_t k = c0; k <= c1; ++k) {
      const index_t r = base + k * win_.h_;
      const DType pg = Reducer::PartialGrad(pooled_.Eval(r, x), v);
      if (pg != DType(0)) sum += grad_.Eval(r, x) * pg;
    }
    return sum;
  }

 private:
  Plan<SrcExp> src_;
  Plan<PooledExp> pooled_;
  Plan<GradExp> grad_;
  ChannelWindow win_;
};

/// CPU fast path of `dst = unpool<R>(src, pooled, grad, ...) [* scale]` for contiguous tensors:
/// a scatter over the output windows (each window adds grad * PartialGrad to its inputs, or for
/// R::kFirstOnly to its first input with a nonzero PartialGrad) instead of the per-pixel gather
/// with its index divisions; parallel over (..., H, W) planes, which no two threads share.
template <typename Reducer, typename DType, int dim>
inline bool UnpoolScatterCPU(
    const Tensor<cpu, dim, DType>& dst,
    const UnPoolingExp<Reducer, Tensor<cpu, dim, DType>, Tensor<cpu, dim, DType>,
                       Tensor<cpu, dim, DType>, DType, dim>& e,
    DType scale) {
  if (!dst.CheckContiguous() || !e.src_.CheckContiguous() || !e.pooled_.CheckContiguous() ||
      !e.grad_.CheckContiguous())
    return false;
  const PoolWin& wn = e.win_;
  const index_t h = e.h_, w = dst.shape_[dim - 1], oh = e.oh_, ow = e.ow_;
  const index_t planes = dst.shape_.ProdShape(0, dim - 2);
  const bool tiled = wn.ky == wn.sy && wn.kx == wn.sx && wn.py == 0 && wn.px == 0 && oh * wn.ky == h && ow * wn.kx == w;
  if (tiled) {
    if constexpr (Reducer::kFirstOnly) {
      // Windows that tile the plane (LeNet's 2x2 stride 2): every input is written once, in
      // window order, the first hit taking the gradient; branch-free, as data-dependent
      // branches mispredict (LeNet's pool1 backward at batch 100, 2 threads: 2.5 ms, against
      // 4.4 ms with branches and 3.6 ms for the all-ties pass below).
      const index_t ky = wn.ky, kx = wn.kx;
#pragma omp parallel for schedule(static) if (dst.Size() >= kParallelThreshold)
      for (index_t pl = 0; pl < planes; ++pl)
        for (index_t oy = 0; oy < oh; ++oy) {
          const DType* pooled = e.pooled_.dptr_ + (pl * oh + oy) * ow;
          const DType* grad = e.grad_.dptr_ + (pl * oh + oy) * ow;
          const DType* in = e.src_.dptr_ + (pl * h + oy * ky) * w;
          DType* out = dst.dptr_ + (pl * h + oy * ky) * w;
          for (index_t ox = 0; ox < ow; ++ox) {
            const DType pv = pooled[ox], gv = grad[ox] * scale;
            unsigned found = 0;
            for (index_t r = 0; r < ky; ++r)
              for (index_t x = ox * kx; x < (ox + 1) * kx; ++x) {
                const unsigned hit = Reducer::PartialGrad(pv, in[r * w + x]) != DType(0);
                out[r * w + x] = (hit & ~found & 1u) ? gv : DType(0);  // a select: inf * 0 is NaN
                found |= hit;
              }
          }
        }
    } else {
      // Windows that tile the plane (2x2 stride 2 on an even image, LeNet's): every input pixel
      // is in exactly one window, so each is written once, row by row, with no zeroing pass and
      // no scattered +=.
      const index_t ky = wn.ky, kx = wn.kx;
#pragma omp parallel if (dst.Size() >= kParallelThreshold)
      {
        // One window row spread to input width (each pooled value and scaled gradient repeated
        // kx times), so that the pass over each input row is a plain elementwise loop the
        // compiler vectorises without gathers.
        std::vector<DType> pe(w), ge(w);
#pragma omp for schedule(static)
        for (index_t pl = 0; pl < planes; ++pl)
          for (index_t oy = 0; oy < oh; ++oy) {
            const DType* pooled = e.pooled_.dptr_ + (pl * oh + oy) * ow;
            const DType* grad = e.grad_.dptr_ + (pl * oh + oy) * ow;
            for (index_t ox = 0; ox < ow; ++ox)
              for (index_t d = 0; d < kx; ++d) pe[ox * kx + d] = pooled[ox], ge[ox * kx + d] = grad[ox] * scale;
            for (index_t y = oy * ky; y < (oy + 1) * ky; ++y) {
              DType* UMBRA_RESTRICT out = dst.dptr_ + (pl * h + y) * w;
              const DType* UMBRA_RESTRICT in = e.src_.dptr_ + (pl * h + y) * w;
              const DType* UMBRA_RESTRICT pv = pe.data();
              const DType* UMBRA_RESTRICT gv = ge.data();
              for (index_t x = 0; x < w; ++x) {
                const DType m = Reducer::PartialGrad(pv[x], in[x]);
                out[x] = m != DType(0) ? gv[x] * m : DType(0);
              }
            }
          }
      }
    }
    return true;
  }
  // Any windows: zero each plane, then each window adds its gradient to its inputs (for
  // R::kFirstOnly to the first one, row-major, with a nonzero PartialGrad).
#pragma omp parallel for schedule(static) if (dst.Size() >= kParallelThreshold)
  for (index_t pl = 0; pl < planes; ++pl) {
    DType* out = dst.dptr_ + pl * h * w;
    const DType* in = e.src_.dptr_ + pl * h * w;
    const DType* pooled = e.pooled_.dptr_ + pl * oh * ow;
    const DType* grad = e.grad_.dptr_ + pl * oh * ow;
    for (index_t i = 0; i < h * w; ++i) out[i] = DType(0);
    for (index_t oy = 0; oy < oh; ++oy) {
      const index_t y0 = oy * wn.sy - wn.py;
      const index_t ylo = y0 < 0 ? 0 : y0, yhi = y0 + wn.ky < h ? y0 + wn.ky : h;
      for (index_t ox = 0; ox < ow; ++ox) {
        const index_t x0 = ox * wn.sx - wn.px;
        const index_t xlo = x0 < 0 ? 0 : x0, xhi = x0 + wn.kx < w ? x0 + wn.kx : w;
        const DType pv = pooled[oy * ow + ox], g = grad[oy * ow + ox] * scale;
        if constexpr (Reducer::kFirstOnly) {
          index_t first = -1;
          for (index_t y = ylo; y < yhi && first < 0; ++y)
            for (index_t x = xlo; x < xhi; ++x)
              if (Reducer::PartialGrad(pv, in[y * w + x]) != DType(0)) {
                first = y * w + x;
                break;
              }
          if (first >= 0) out[first] += g;
        } else {
          for (index_t y = ylo; y < yhi; ++y)
            for (index_t x = xlo; x < xhi; ++x) {
              const DType pg = Reducer::PartialGrad(pv, in[y * w + x]);
              if (pg != DType(0)) out[y * w + x] += g * pg;
            }
        }
      }
    }
  }
  return true;
}

template <typename Reducer, typename DType, int dim>
struct CPUFastPath<sv::saveto, Tensor<cpu, dim, DType>,
                   UnPoolingExp<Reducer, Tensor<cpu, dim, DType>, Tensor<cpu, dim, DType>,
                                Tensor<cpu, dim, DType>, DType, dim>> {
  template <typename E>
  static bool Run(const Tensor<cpu, dim, DType>& dst, const E& e) {
    return UnpoolScatterCPU(dst, e, DType(1));
  }
};
template <typename Reducer, typename DType, int dim, int etype>
struct CPUFastPath<sv::saveto, Tensor<cpu, dim, DType>,
                   BinaryMapExp<op::mul,
                                UnPoolingExp<Reducer, Tensor<cpu, dim, DType>, Tensor<cpu, dim, DType>,
                                             Tensor<cpu, dim, DType>, DType, dim>,
                                ScalarExp<DType>, DType, etype>> {
  template <typename E>
  static bool Run(const Tensor<cpu, dim, DType>& dst, const E& e) {
    return UnpoolScatterCPU(dst, e.lhs_, e.rhs_.scalar_);
  }
};

}  // namespace expr

using expr::ch_unpool;
using expr::chpool;
using expr::pool;
using expr::unpool;

}  // namespace umbra
