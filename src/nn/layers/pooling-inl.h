// Spatial pooling layers: max_pooling, avg_pooling, sum_pooling (windows of kernel_size at
// stride, optional pad) and global_max_pooling, global_avg_pooling (one window = the whole
// H x W, output (N, C, 1, 1)). One template, the reducer and scale as parameters.
// As cxxnet: output size in ceil mode (PoolOutSize(..., true, pad)), so a last window may hang
// over the edge and is clipped; avg divides by the full kh*kw, border windows included; stride
// defaults to 1. Padded cells are skipped (never win a max). Expressions: tensor/ext/pool.h.
// On the GPU in float, max pooling (not global) runs umbra's kernels that keep each window's
// winning cell (max_pool_gpu.h; a gather backward that reads no input), the others cuDNN's
// (cudnn/pool_cudnn.h) when its floor-mode output size equals the ceil-mode one (windows never
// hang over the edge, always so for global pooling); algo=cudnn asks cuDNN for max pooling too,
// algo=expr keeps the pool/unpool expressions. Global average pooling's backward, in float and
// the plain layout, is one broadcast of the output gradient on either path. In a channels-last
// net max and avg pooling take (N, H, W, C) nodes on the GPU and give (N, OH, OW, C) ones
// (ChannelsLast below). Both take bf16 nodes on the GPU (NetSpec::bf16_nodes): umbra's max
// pooling kernels, cuDNN's bf16 pooling, or the same expressions over the widened values,
// rounded once as stored (Bf16).
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cudnn/conv_cudnn.h"  // CudnnBuilt
#include "cudnn/pool_cudnn.h"

#include "max_pool_gpu.h"
#include "param_layer.h"
#include "umbra/tensor/bf16.h"

namespace umbra::nn {

struct PoolingParam {
  int kernel_size = 0, kernel_height = 0, kernel_width = 0;
  int stride = 1;
  int pad = 0, pad_y = -1, pad_x = -1;
  std::string algo = "auto";
  static const ParamDecl<PoolingParam>& Decl() {
    static const ParamDecl<PoolingParam> d = [] {
      ParamDecl<PoolingParam> d;
      d.Field(&PoolingParam::kernel_size, "kernel_size", "square window side").Min(1)
          .Then([](PoolingParam& q) { q.kernel_height = q.kernel_width = 0; });
      d.Field(&PoolingParam::kernel_height, "kernel_height", "window rows (default: kernel_size)")
          .Min(1);
      d.Field(&PoolingParam::kernel_width, "kernel_width", "window columns (default: kernel_size)")
          .Min(1);
      d.Field(&PoolingParam::stride, "stride",
              "step between windows, both axes (as cxxnet, the output size rounds up: a last window may "
              "hang over the edge, and avg_pooling divides by the whole window there too)")
          .Min(1);
      d.Field(&PoolingParam::pad, "pad", "padding on each side, both axes (skipped cells)")
          .Min(0)
          .Then([](PoolingParam& q) { q.pad_y = q.pad_x = -1; });
      // -1, the default, may be written too (the help gives it as the default).
      d.Field(&PoolingParam::pad_y, "pad_y", "padding of rows (-1: pad's)").Min(-1);
      d.Field(&PoolingParam::pad_x, "pad_x", "padding of columns (-1: pad's)").Min(-1);
      d.Field(&PoolingParam::algo, "algo",
              "GPU float: auto (max: umbra's kernels keeping each window's winner; avg: cuDNN where it "
              "pools alike), cudnn (cuDNN where it pools alike) or expr (umbra's pool/unpool expressions)")
          .OneOf({"auto", "cudnn", "expr"});
      return d;
    }();
    return d;
  }
};

/// Global pooling: the window is the whole input plane; only the GPU path is a key.
using GlobalPoolingParam = CudnnAlgoParam;

enum class PoolKind { kMax, kSum, kAvg };

template <PoolKind kKind, bool kGlobal>
constexpr const char* PoolingName() {
  if constexpr (kGlobal)
    return kKind == PoolKind::kMax ? "global_max_pooling" : "global_avg_pooling";
  else if constexpr (kKind == PoolKind::kMax) return "max_pooling";
  else if constexpr (kKind == PoolKind::kSum) return "sum_pooling";
  else return "avg_pooling";
}

template <PoolKind kKind, bool kGlobal, typename xpu, typename DType>
class PoolingLayer
    : public ParamLayer<std::conditional_t<kGlobal, GlobalPoolingParam, PoolingParam>, xpu, DType> {
  using Reducer = std::conditional_t<kKind == PoolKind::kMax, red::maximum, red::sum>;

 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return PoolingName<kKind, kGlobal>(); }

  // Channels-last on the GPU in float (max and avg): umbra's max pooling kernels (either layout),
  // cuDNN's NHWC pooling where it pools alike, else the expressions over transposed views of the
  // (N, H, W, C) nodes, which cost one kernel each way where converting would move and keep copies.
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override {
    if constexpr (kGpuFloat<xpu, DType> && kKind != PoolKind::kSum)
      if (CudnnBuilt()) return Layout::kNhwc;
    return Layout::kNchw;
  }
  void SetChannelsLast() override { nhwc_ = true; }
  // bf16 nodes (NetSpec::bf16_nodes), max and avg, kept when the input is bf16 already: umbra's
  // max pooling kernels, cuDNN where it pools alike, the expressions elsewhere (ResNet's ceil-mode
  // stem pooling was a float island, converted both ways around it: 2 x 411 MB of fp32 copies).
  BF16Nodes TakesBF16(const std::vector<Shape<4>>& in) const override {
    return OneInputBF16(kGpuFloat<xpu, DType> && kKind != PoolKind::kSum, in);
  }
  void SetBF16() override { nodes16_ = true; }
  // umbra's max pooling kernels read neither value backward (the kept winners instead), so the
  // net may give both buffers to other nodes after the forward (ResNet's stem: its relu's output).
  std::string Implementation() const override {
    if (BroadcastBackward()) return backend_ ? "cuDNN forward, broadcast backward" : "expressions";
    return argmax_ ? "umbra kernels, winners kept" : backend_ ? "cuDNN" : "expressions";
  }
  // Global average pooling's backward as one broadcast (Backward) on the GPU in float, in the
  // plain layout, whichever path pools forward.
  bool BroadcastBackward() const {
    if constexpr (kGpuFloat<xpu, DType> && kGlobal && kKind == PoolKind::kAvg) return !nodes16_ && !nhwc_;
    return false;
  }
  bool BackwardReadsInput(int) const override { return !argmax_; }
  bool BackwardReadsOutput(int) const override { return !argmax_; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    // The input as (N, C, H, W), whichever layout holds it.
    const Shape<4> s = nhwc_ ? NchwOf(in[0]) : in[0];
    UMBRA_CHECK(s.Size() > 0, this->Describe(), ": empty input ", s);
    std::tie(w_, oshape_) = WindowOf(s);
    if constexpr (kGpuFloat<xpu, DType> && kKind != PoolKind::kSum) {
      backend_.reset();
      argmax_ = false;
      if constexpr (kKind == PoolKind::kMax && !kGlobal) {
        geom_ = MaxPoolGeom{s[0], s[1], s[2], s[3], oshape_[0], oshape_[1], int(w_.ky), int(w_.kx), int(w_.sy),
                            int(w_.sx), int(w_.py), int(w_.px), nhwc_, nodes16_};
        argmax_ = this->p_.algo == "auto" && MaxPoolArgmaxFits(geom_);
        arg_fresh_ = false;
      }
      if (!argmax_ && CudnnPools(s, w_, oshape_))
        backend_ = MakeCudnnPool(kKind == PoolKind::kMax, s[0], s[1], s[2], s[3], oshape_[0], oshape_[1], w_.ky,
                                 w_.kx, w_.sy, w_.sx, w_.py, w_.px, nhwc_, nodes16_);
    }
    if (nhwc_) return {Shape4(s[0], oshape_[0], oshape_[1], s[1])};
    return {Shape4(s[0], s[1], oshape_[0], oshape_[1])};
  }

 private:
  // The window and output size for input s (N, C, H, W); checks the keys.
  std::pair<expr::PoolWin, Shape<2>> WindowOf(const Shape<4>& s) const {
    expr::PoolWin w;
    if constexpr (kGlobal) {
      w = expr::PoolWin{s[2], s[3], 1, 1, 0, 0};
    } else {
      const PoolingParam& q = this->p_;
      w.ky = q.kernel_height > 0 ? q.kernel_height : q.kernel_size;
      w.kx = q.kernel_width > 0 ? q.kernel_width : q.kernel_size;
      w.sy = w.sx = q.stride;
      w.py = q.pad_y >= 0 ? q.pad_y : q.pad;
      w.px = q.pad_x >= 0 ? q.pad_x : q.pad;
      UMBRA_CHECK(w.ky > 0 && w.kx > 0, this->Describe(),
                  ": kernel_size (or kernel_height and kernel_width) must be set");
      UMBRA_CHECK(w.py < w.ky && w.px < w.kx, this->Describe(), ": pad ", w.py, "x", w.px,
                  " must be smaller than the kernel ", w.ky, "x", w.kx);
      UMBRA_CHECK(w.ky <= s[2] + 2 * w.py && w.kx <= s[3] + 2 * w.px, this->Describe(),
                  ": kernel ", w.ky, "x", w.kx, " with pad ", w.py, "x", w.px,
                  " exceeds the input ", s);
    }
    return {w, Shape2(PoolOutSize(s[2], w.ky, w.sy, true, w.py), PoolOutSize(s[3], w.kx, w.sx, true, w.px))};
  }
  // Whether cuDNN pools input s (N, C, H, W) with window w and output o: the GPU in float, max or avg,
  // algo auto or cudnn, and cuDNN's floor-mode output size equal to the ceil-mode one.
  bool CudnnPools(const Shape<4>& s, const expr::PoolWin& w, const Shape<2>& o) const {
    if constexpr (kGpuFloat<xpu, DType> && kKind != PoolKind::kSum) {
      return CudnnBuilt() && this->p_.algo != "expr" && o[0] == PoolOutSize(s[2], w.ky, w.sy, false, w.py) &&
             o[1] == PoolOutSize(s[3], w.kx, w.sx, false, w.px);
    } else {
      (void)s, (void)w, (void)o;
      return false;
    }
  }

 public:
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 4, DType> y = out[0]->data;
    if constexpr (kGpuFloat<xpu, DType>) {
      // The winners are kept in test mode too: a backward may follow one (gradients under the
      // moving statistics), and they cost a quarter of the output's bytes.
      if (argmax_) {
        argmax_buf_.Resize(ArgShape());  // at the first forward (a no-op after)
        MaxPoolForwardGPU(geom_, in[0]->data.dptr_, y.dptr_, reinterpret_cast<uint8_t*>(argmax_buf_.dptr_),
                          Stream<xpu>::GetStream(y.stream_));
        arg_fresh_ = true;
        return;
      }
    }
    if (backend_) {
      backend_->Forward(reinterpret_cast<const float*>(in[0]->data.dptr_), reinterpret_cast<float*>(y.dptr_));
      return;
    }
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {  // windows cuDNN cannot pool, on bf16 nodes: in float, rounded as stored
        Tensor<xpu, 4, Bf16> y16 = ViewAs<Bf16>(y);
        const auto x = Widened(in[0]->data);
        if (nhwc_)
          y16 = tcast<Bf16>(transpose(Pool(transpose(x, ToNchw())), ToNhwc()));
        else
          y16 = tcast<Bf16>(Pool(x));
        return;
      }
    }
    if constexpr (!std::is_same_v<xpu, cpu>) {
      if (nhwc_) {  // windows cuDNN cannot pool, on (N, H, W, C): one fused kernel, no copies
        y = transpose(Pool(transpose(in[0]->data.view(), ToNchw())), ToNhwc());
        return;
      }
    }
    y = Pool(in[0]->data.view());
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 4, DType> gx = in[0]->grad;
    if constexpr (kGpuFloat<xpu, DType>) {
      if (argmax_) {
        UMBRA_CHECK(arg_fresh_, this->Describe(),
                    ": backward before any forward at this shape (no window winners kept)");
        MaxPoolBackwardGPU(geom_, reinterpret_cast<const uint8_t*>(argmax_buf_.dptr_), out[0]->grad.dptr_, gx.dptr_,
                           Stream<xpu>::GetStream(gx.stream_));
        return;
      }
    }
    if constexpr (kGpuFloat<xpu, DType> && kGlobal && kKind == PoolKind::kAvg) {
      // Global average pooling's gradient is each (n, c)'s output gradient over its plane,
      // scaled: one broadcast, on the GPU's packed or flat path (cuDNN's backward ran at 395
      // GB/s on ResNet-50's 2048 x 7 x 7 planes, 0.37 ms a step, on an H200; this pass writes
      // those 51 MB once: ~0.02 ms at copy speed, a napkin). cuDNN's forward is kept.
      if (BroadcastBackward()) {
        const index_t planes = gx.shape_[0] * gx.shape_[1], cells = gx.shape_[2] * gx.shape_[3];
        Tensor<xpu, 2, DType> g2(gx.dptr_, Shape2(planes, cells), gx.stream_);
        const Tensor<xpu, 1, DType> gy(out[0]->grad.dptr_, Shape1(planes), out[0]->grad.stream_);
        g2 = broadcast<0>(gy, g2.shape_) * Scale();
        return;
      }
    }
    if (backend_) {
      backend_->Backward(reinterpret_cast<const float*>(in[0]->data.dptr_),
                         reinterpret_cast<const float*>(out[0]->data.dptr_),
                         reinterpret_cast<const float*>(out[0]->grad.dptr_), reinterpret_cast<float*>(gx.dptr_));
      return;
    }
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {  // as forward: the gradient summed in float, rounded once
        Tensor<xpu, 4, Bf16> gx16 = ViewAs<Bf16>(gx);
        const auto x = Widened(in[0]->data), y = Widened(out[0]->data);
        const auto gy = Widened(out[0]->grad);
        if (nhwc_)
          gx16 = tcast<Bf16>(
              transpose(Unpool(transpose(x, ToNchw()), transpose(y, ToNchw()), transpose(gy, ToNchw())), ToNhwc()));
        else
          gx16 = tcast<Bf16>(Unpool(x, y, gy));
        return;
      }
    }
    if constexpr (!std::is_same_v<xpu, cpu>) {
      if (nhwc_) {
        gx = transpose(Unpool(transpose(in[0]->data.view(), ToNchw()), transpose(out[0]->data.view(), ToNchw()),
                              transpose(out[0]->grad.view(), ToNchw())),
                       ToNhwc());
        return;
      }
    }
    gx = Unpool(in[0]->data.view(), out[0]->data.view(), out[0]->grad.view());
  }

 private:
  // The layer's pooling of x (N, C, H, W), and its gradient from the input x, the output y and
  // its gradient gy: float expressions over any views of them (transposed, widened from bf16).
  template <typename X>
  auto Pool(const X& x) const {
    return pool<Reducer>(x, oshape_, w_.ky, w_.kx, w_.sy, w_.sx, w_.py, w_.px) * Scale();
  }
  template <typename X, typename Y, typename G>
  auto Unpool(const X& x, const Y& y, const G& gy) const {
    return unpool<Reducer>(x, y, gy, w_.ky, w_.kx, w_.sy, w_.sx, w_.py, w_.px) * Scale();
  }
  // For avg the forward scale 1/(kh*kw) also scales the gradient; unpool of red::sum treats the
  // scaled output as a plain sum, which is fine since its PartialGrad ignores the pooled value.
  DType Scale() const {
    return kKind == PoolKind::kAvg ? DType(1) / DType(w_.ky * w_.kx) : DType(1);
  }
  // (N, H, W, C) seen as (N, C, H, W), and back.
  static Shape<4> ToNchw() { return Shape4(0, 3, 1, 2); }
  static Shape<4> ToNhwc() { return Shape4(0, 2, 3, 1); }
  // The winners' bytes in DType elements (a container of bytes would be one more instantiation).
  Shape<1> ArgShape() const {
    return Shape1(index_t((MaxPoolArgmaxBytes(geom_) + index_t(sizeof(DType)) - 1) / index_t(sizeof(DType))));
  }
  expr::PoolWin w_{};
  Shape<2> oshape_;
  bool argmax_ = false;     // gpu float max pooling on umbra's kernels (max_pool_gpu.h)
  bool arg_fresh_ = false;  // a forward at the current shape has kept its winners
  MaxPoolGeom geom_{};
  TensorContainer<xpu, 1, DType> argmax_buf_;  // a byte per output: each window's winning cell
  bool nhwc_ = false;  // channels-last nodes (the GPU: umbra's max kernels, cuDNN, or transposed views)
  bool nodes16_ = false;  // bf16 nodes (the GPU: umbra's max kernels, cuDNN's bf16 pooling, or expressions)
  std::unique_ptr<PoolBackend> backend_;  // gpu float with cuDNN; null: argmax_ or the expressions
};

template <typename xpu, typename DType>
using MaxPoolingLayer = PoolingLayer<PoolKind::kMax, false, xpu, DType>;
template <typename xpu, typename DType>
using SumPoolingLayer = PoolingLayer<PoolKind::kSum, false, xpu, DType>;
template <typename xpu, typename DType>
using AvgPoolingLayer = PoolingLayer<PoolKind::kAvg, false, xpu, DType>;
template <typename xpu, typename DType>
using GlobalMaxPoolingLayer = PoolingLayer<PoolKind::kMax, true, xpu, DType>;
template <typename xpu, typename DType>
using GlobalAvgPoolingLayer = PoolingLayer<PoolKind::kAvg, true, xpu, DType>;

}  // namespace umbra::nn
