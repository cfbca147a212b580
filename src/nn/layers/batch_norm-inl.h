// batch_norm and batch_norm_no_ma (cxxnet's names): y = gamma * (x - mean) / sqrt(var + eps) + beta
// per channel, the statistics taken over (N, H, W) of (N, C, H, W). A vector node (N, 1, 1, len)
// is normalised per feature (each of the len columns over the batch), as after fullc. Training
// uses the batch statistics; batch_norm keeps moving averages (moving = m * moving + (1 - m) *
// batch, the variance unbiased as PyTorch/Caffe store it) and uses them at test time, while
// batch_norm_no_ma always uses the batch statistics (cxxnet's). eps defaults to 1e-5 (PyTorch;
// cxxnet used 1e-10). Weights: gamma, beta (learned) and moving_mean, moving_var (saved with the
// model; their gradient tensors stay 0 and updaters skip tags starting with "moving_").
// On the GPU in float, algo=auto takes umbra's kernels (below) in either layout, and algo=cudnn
// cuDNN's batch normalisation (cudnn/bn_cudnn.h, where it takes the shape; it refuses batches
// over 65535). In a channels-last net the layer keeps the layout it is given: (N, H, W, C) is
// per-channel statistics of (N*H*W, C) rows, the vector case's arithmetic. Why auto is umbra's
// (figures at algo=auto's note, below): on an H200, cuDNN 9.14's channels-last batch norm ran
// 12-15x slower than umbra's kernels, its plain one 2.1x slower on ResNet's 64-channel stem
// and 4-9% faster from 256 channels, relus included (bench/RESULTS.md, 2026-12-04), before
// umbra's elementwise passes moved to the packed flat path; and only umbra's take a relu and a
// residual sum into their passes. With bf16 nodes (NetSpec::bf16_nodes)
// either GPU path takes bfloat16 values and gradients: cuDNN's with fp32 statistics and
// weights, umbra's summing the widened values in double and computing each pass in float,
// rounded once as stored.
// A relu after it runs in its passes on the expression path (Layer::FuseRelu): forward applies
// max(0, .) in the normalising pass; backward masks the output's gradient where the normalised
// value was not positive, recomputing that value from x (BnScale: bit for bit the forward's;
// the output, which an unfused relu's backward reads, need not be kept). On the CPU the mask
// is a pass of its own, in place; on the GPU it is folded into the passes below (but for a
// backward after a test-mode forward, which masks in place first, as the CPU does).
// A two-input sum after it (Layer::FuseAdd: a ResNet block's last batch norm and its shortcut)
// is added in the same pass on the expression path, with the relu after the sum if fused:
// y = relu(normalised x + shortcut), one pass where the sum was another over three nodes.
// The expression path on the GPU takes a training pass's statistics and its backward sums from
// batch_norm_stats.h (one read of the data each, two sums at once, the per-channel arithmetic in
// the same launch; the mask folded into the sums and the input-gradient pass), which expressions
// would spread over two reductions and a string of small per-channel launches.
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>

#include "batch_norm_stats.h"
#include "cudnn/bn_cudnn.h"
#include "cudnn/conv_cudnn.h"  // CudnnBuilt
#include "param_layer.h"
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include "pass_buffer.h"
#endif
#include "umbra/tensor/bf16.h"

namespace umbra::nn {

struct BatchNormParam {
  float eps = 1e-5f;
  float bn_momentum = 0.9f;
  float init_slope = 1.f;
  float init_bias = 0.f;
  std::string algo = "auto";
  static const ParamDecl<BatchNormParam>& Decl() {
    static const ParamDecl<BatchNormParam> d = [] {
      ParamDecl<BatchNormParam> d;
      d.Field(&BatchNormParam::eps, "eps", "added to the variance before the square root")
          .Range(1e-20, 1);  // > 0: a constant channel must not divide by zero
      d.Field(&BatchNormParam::bn_momentum, "bn_momentum",
              "moving = bn_momentum * moving + (1 - bn_momentum) * batch statistic (batch_norm; "
              "batch_norm_no_ma keeps no moving averages and does not read it)")
          .Range(0, 1);
      d.Field(&BatchNormParam::init_slope, "init_slope", "initial gamma");
      d.Field(&BatchNormParam::init_bias, "init_bias", "initial beta");
      d.Field(&BatchNormParam::algo, "algo",
              "GPU float: auto (umbra's kernels, as expr), cudnn (cuDNN in either layout, where it takes the "
              "shape) or expr (umbra's own kernels)")
          .OneOf({"auto", "cudnn", "expr"});
      return d;
    }();
    return d;
  }
};

template <bool moving_avg, typename xpu, typename DType>
class BatchNormLayer : public ParamLayer<BatchNormParam, xpu, DType> {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  // The GPU's float expression path, with the kernels of batch_norm_stats.h.
  static constexpr bool kGpuStats = kGpuFloat<xpu, DType>;
#else
  static constexpr bool kGpuStats = false;
#endif

 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return moving_avg ? "batch_norm" : "batch_norm_no_ma"; }
  std::string KeyWithoutEffect(const std::string& key) const override {
    if (!moving_avg && key == "bn_momentum") return "batch_norm_no_ma keeps no moving averages";
    return ParamLayer<BatchNormParam, xpu, DType>::KeyWithoutEffect(key);
  }

  Layout ChannelsLast(const std::vector<Shape<4>>&) const override { return Layout::kEither; }
  void SetChannelsLast() override { nhwc_ = true; }
  // bf16 nodes on the GPU (NetSpec::bf16_nodes), kept when the input is bf16 already: cuDNN
  // normalises bf16 values with fp32 statistics and weights; umbra's kernels (auto, expr) sum the
  // widened values in double and normalise in float, rounding once as they store, with a relu
  // fused as in float.
  BF16Nodes TakesBF16(const std::vector<Shape<4>>& in) const override {
    return OneInputBF16(kGpuStats, in);
  }
  void SetBF16() override { nodes16_ = true; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    const Shape<4>& s = in[0];
    UMBRA_CHECK(s.Size() > 0, this->Describe(), ": empty input ", s);
    // Vectors become (N, len, 1, 1): every feature is then a channel and one code path serves;
    // so do channels-last nodes (N, H, W, C), as (N*H*W, C, 1, 1).
    shape_ = nhwc_ ? Shape4(s[0] * s[1] * s[2], s[3], 1, 1) : s[1] == 1 && s[2] == 1 ? Shape4(s[0], s[3], 1, 1) : s;
    const index_t m = shape_.Size() / shape_[1];
    // Batch statistics need two values a channel; a net that only predicts (no weight
    // gradients: NetSpec::inference_only) normalises with the moving ones, which a batch of one
    // vector may use (pred with batch_size = 1 was refused).
    per_channel_ = m;
    UMBRA_CHECK(m >= 2 || (moving_avg && !this->weight_grads_), this->Describe(), ": input ", s, " gives ", m,
                " value(s) per channel; batch statistics need at least 2");
    if constexpr (kGpuFloat<xpu, DType>) {
      backend_.reset();
      if (this->p_.algo == "cudnn")
        backend_ = nhwc_ ? MakeCudnnBn(s[0], s[3], s[1], s[2], this->p_.eps, true, nodes16_)
                         : MakeCudnnBn(shape_[0], shape_[1], shape_[2], shape_[3], this->p_.eps, false, nodes16_);
    }
    if constexpr (kGpuStats) {  // the strided statistics kernel's 32-bit index (batch_norm_stats.cu)
      UMBRA_CHECK(backend_ || shape_[2] * shape_[3] == 1 || m < (index_t(1) << 32), this->Describe(), ": input ", s,
                  " gives ", m, " values per channel; umbra's GPU kernels (algo=auto or expr) take at most "
                  "2^32 - 1: algo=cudnn");
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      // The statistics kernels' counts, sized and cleared now, outside any step: first
      // allocated inside a CUDA graph's capture, they would be cleared only in the graph, and a
      // refused capture would leave the steps after it counts never cleared.
      if (!backend_) {
        counts_.Resize(Shape1(index_t(BnCountWords(Dims()))));
        BnCountsPrepare(Dims(), reinterpret_cast<unsigned*>(counts_.dptr_));
      }
#endif
    }
    return {s};
  }
  // algo=auto's choice, 2026-12-05: umbra's kernels at every width (until then cuDNN's from 129
  // channels in the plain layout). The first device run's figures (bench/RESULTS.md, 2026-12-04):
  // cuDNN 9.14's NCHW training batch norm ran at forward / backward 873-895 / 518-529 GB/s with
  // 64 channels, 1,439-1,541 / 902-979 with 128, and 1,503-2,379 / 1,289-2,108 from 256 in the
  // ResNet profiles; one training pass with its relu, umbra's kernels against cuDNN's: 1.85
  // against 3.86 ms on the stem's shape, 1.85 against 1.77 at 256 channels, 0.27 against 0.25 at
  // 2048 on 7 x 7. umbra's two elementwise passes ran then on the 2-D kernel, 4 bytes a thread
  // in flight; on the packed flat path now (broadcast.h), ~2x by the napkin, not yet measured,
  // and only they take the relu and the residual sum after the batch norm into their passes.
  // The kernels stage measures the other default (bench_train_gpu's cudnn_bn_img_per_s).
  std::string Implementation() const override {
    std::string d = backend_ ? "cuDNN" : kGpuStats ? "umbra kernels" : "expressions";
    if (add_) d += "; sum fused";
    return relu_ ? d + "; relu fused" : d;
  }
  // cuDNN's float batch normalisation has no relu to fuse: the expression path only.
  bool FuseRelu() override {
    relu_ = !backend_;
    return relu_;
  }
  bool RewritesOutputGrad() const override { return relu_; }  // the fused relu's mask, on the CPU
  // A sum after it (Layer::FuseAdd, a ResNet block's last batch norm and its shortcut): the
  // expression path adds input 1 in the normalising pass, a relu fused after that applies to
  // the sum, as written; backward masks the output's gradient in place (AddendBackward), and
  // that is input 1's gradient. Not after a fused relu of its own (that relu came before the
  // sum).
  bool FuseAdd() override {
    add_ = !backend_ && !relu_;
    return add_;
  }
  bool InputGradIsOutputGrad(int i) const override { return add_ && i == 1; }
  void InitWeights(Random<xpu, DType>&) override {
    const Shape<2> s = Shape2(1, shape_[1]);
    gamma_.Resize(s, DType(this->p_.init_slope));
    beta_.Resize(s, DType(this->p_.init_bias));
    this->ResizeGrad(ggamma_, s);
    this->ResizeGrad(gbeta_, s);
    if (moving_avg) {
      moving_mean_.Resize(s, DType(0));
      moving_var_.Resize(s, DType(1));
      this->ResizeGrad(gmoving_, s);
      this->ResizeGrad(gmoving_var_, s);
    }
    mean_.Resize(Shape1(shape_[1]));
    inv_std_.Resize(Shape1(shape_[1]));
    tmp_.Resize(Shape1(shape_[1]));
    tmp2_.Resize(Shape1(shape_[1]));
    scale_.Resize(Shape1(shape_[1]));
    shift_.Resize(Shape1(shape_[1]));
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in,
               const NodeList& out) override {
    Tensor<xpu, 4, DType> x = View(in[0]->data), y = View(out[0]->data);
    const DType eps = DType(this->p_.eps);
    used_batch_ = ctx.is_train || !moving_avg;
    UMBRA_CHECK(!used_batch_ || per_channel_ >= 2, this->Describe(), ": a training pass on ", per_channel_,
                " value(s) per channel; batch statistics need at least 2");
    if (backend_) {
      auto f = [](const Tensor<xpu, 1, DType>& t) { return reinterpret_cast<float*>(t.dptr_); };
      if (used_batch_) {
        const bool update = moving_avg && ctx.is_train;
        backend_->ForwardTrain(reinterpret_cast<const float*>(x.dptr_), reinterpret_cast<float*>(y.dptr_),
                               f(gamma_.view()[0]), f(beta_.view()[0]), update ? 1.0 - this->p_.bn_momentum : 0.0,
                               update ? f(moving_mean_.view()[0]) : nullptr,
                               update ? f(moving_var_.view()[0]) : nullptr, f(mean_.view()), f(inv_std_.view()));
      } else {
        // The statistics the backward of a test-mode pass uses, then cuDNN's inference forward.
        Copy(mean_.view(), moving_mean_.view()[0]);
        inv_std_ = DType(1) / F<op::sqrt>(moving_var_.view()[0] + eps);
        backend_->ForwardInfer(reinterpret_cast<const float*>(x.dptr_), reinterpret_cast<float*>(y.dptr_),
                               f(gamma_.view()[0]), f(beta_.view()[0]), f(moving_mean_.view()[0]),
                               f(moving_var_.view()[0]));
      }
      return;
    }
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (kGpuStats) {
      if (used_batch_) {
        const bool update = moving_avg && ctx.is_train;
        void* const stream = Stream<gpu>::GetStream(x.stream_);
        const PassBuffer partials(size_t(BnPartialDoubles(Dims())) * sizeof(double));
        BnForwardStatsGPU(Dims(),
                          {x.dptr_, nodes16_, gamma_.dptr_, beta_.dptr_, this->p_.eps, this->p_.bn_momentum,
                           update ? moving_mean_.dptr_ : nullptr, update ? moving_var_.dptr_ : nullptr, mean_.dptr_,
                           inv_std_.dptr_, scale_.dptr_, shift_.dptr_},
                          Scratch(partials, stream), stream);
        Apply(in, y);
        return;
      }
    }
#endif
    if (used_batch_) {
      const index_t m = shape_.Size() / shape_[1];
      if constexpr (std::is_same_v<xpu, cpu>) {
        // Summed in double and divided, as the GPU's statistics are: a float sum times a rounded
        // 1/m missed a constant channel's value by an ulp, and that x - mean over sqrt(var + eps)
        // reached the output (a constant channel normalised to 1e-4 at eps = 1e-5, +-1 at 1e-20).
        TensorContainer<cpu, 1, double> sum(Shape1(shape_[1]));
        sum = sumall_except_dim<1>(tcast<double>(x));
        mean_ = tcast<DType>(sum.view() / double(m));
        // The squares in double too: a float square overflowed at |x - mean| ~ 2e19, where the
        // variance itself still fits a float, and the channel's output became beta, unsaid.
        sum = sumall_except_dim<1>(F<op::square>(tcast<double>(x) - tcast<double>(broadcast<1>(mean_.view(), shape_))));
        tmp_ = tcast<DType>(sum.view() / double(m));  // biased batch variance, what the normalisation uses
      } else {
        mean_ = sumall_except_dim<1>(x) * DType(1.0 / double(m));
        tmp_ = sumall_except_dim<1>(F<op::square>(x - broadcast<1>(mean_.view(), shape_))) * DType(1.0 / double(m));
      }
      inv_std_ = DType(1) / F<op::sqrt>(tmp_.view() + eps);
      if (moving_avg && ctx.is_train) {
        const DType mo = DType(this->p_.bn_momentum);
        Tensor<xpu, 1, DType> mm = moving_mean_.view()[0], mv = moving_var_.view()[0];
        mm = mm * mo + mean_.view() * (DType(1) - mo);
        mv = mv * mo + tmp_.view() * DType((1.0 - this->p_.bn_momentum) * m / double(m - 1));
      }
    } else {
      Copy(mean_.view(), moving_mean_.view()[0]);
      inv_std_ = DType(1) / F<op::sqrt>(moving_var_.view()[0] + eps);
    }
    // y = x * (gamma * inv_std) + (beta - mean * gamma * inv_std): two per-channel vectors,
    // kept for a fused relu's backward.
    scale_ = gamma_.view()[0] * inv_std_.view();
    shift_ = beta_.view()[0] - mean_.view() * scale_.view();
    Apply(in, y);
  }
  // Backward reads x (batch statistics are kept from the forward); for the mask of a relu after
  // a fused sum, the sum's other input or the output (AddendBackward), else neither.
  bool BackwardReadsInput(int i) const override { return i == 0 || (add_ && relu_ && mask_from_addend_); }
  bool BackwardReadsOutput(int) const override { return add_ && relu_ && !mask_from_addend_; }
  void AddendOutlivesBackward(bool live) override { mask_from_addend_ = live; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType> x = View(in[0]->data), gy = View(out[0]->grad);
    // A fused sum's relu mask (a sum fuses only without cuDNN): applied by the GPU's backward
    // sums in their read of gy (in place), elsewhere by a pass of its own first.
    if (add_ && !(kGpuStats && used_batch_)) AddendBackward(prop_grad, in, out, false);
    const bool mask = relu_ && !add_;  // a fused relu's mask still to apply to gy
    if (backend_ && used_batch_) {
      // cuDNN always computes the input gradient: without prop_grad it goes to scratch.
      Tensor<xpu, 4, DType> gx = View(in[0]->grad);
      if (!prop_grad) {
        if (!scratch_.dptr_) scratch_.Resize(shape_);
        gx = scratch_.view();
      }
      auto f = [](const Tensor<xpu, 1, DType>& t) { return reinterpret_cast<float*>(t.dptr_); };
      backend_->Backward(reinterpret_cast<const float*>(x.dptr_), reinterpret_cast<const float*>(gy.dptr_),
                         reinterpret_cast<float*>(gx.dptr_), f(gamma_.view()[0]), f(ggamma_.view()[0]),
                         f(gbeta_.view()[0]), f(mean_.view()), f(inv_std_.view()));
      return;
    }
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (kGpuStats) {
      if (used_batch_) {
        BnBackwardArgs args{x.dptr_,       gy.dptr_,     nodes16_,        mean_.dptr_, inv_std_.dptr_,
                            scale_.dptr_,  shift_.dptr_, gamma_.dptr_,    relu_,       ggamma_.dptr_,
                            gbeta_.dptr_,  k1_.dptr_,    tmp_.dptr_,      tmp2_.dptr_};
        if (add_ && relu_) {  // the sum's mask, from the addend or the output, written into gy
          if (mask_from_addend_)
            args.addend = in[1]->data.dptr_;
          else
            args.y = out[0]->data.dptr_;
          args.g_out = gy.dptr_;
        }
        void* const stream = Stream<gpu>::GetStream(x.stream_);
        {
          const PassBuffer partials(size_t(BnPartialDoubles(Dims())) * sizeof(double));
          BnBackwardSumsGPU(Dims(), args, Scratch(partials, stream), stream);
        }
        if (add_) AddendBackward(prop_grad, in, out, true);
        if (!prop_grad) return;
        // (g - ka - (x - mean) * kc) * k1, g the output's gradient masked by a fused relu: one
        // pass, the mask recomputed from x as the sums did (no in-place write of gy first).
        Elementwise(std::tie(in[0]->data, out[0]->grad), in[0]->grad, [this, mask](const auto& xv, const auto& gv, auto store) {
          const auto rest = broadcast<1>(tmp_.view(), shape_) +
                            (xv - broadcast<1>(mean_.view(), shape_)) * broadcast<1>(tmp2_.view(), shape_);
          if (mask)
            store((gv * F<op::relu_grad>(Normalised(xv)) - rest) * broadcast<1>(k1_.view(), shape_));
          else
            store((gv - rest) * broadcast<1>(k1_.view(), shape_));
        });
        return;
      }
    }
#endif
    // A fused relu's gradient, written over the output's: gy where the forward's normalised
    // value was positive, recomputed from x by the forward's own expression (so the same
    // decisions). One pass, as an unfused relu's backward: folding the mask into the three
    // passes below instead ran them 3.5x slower on the CPU (ResNet-18's batch norms, 912 ms
    // against 256 ms a step), its per-channel lookups repeated in each.
    if (mask)
      Elementwise(std::tie(in[0]->data, out[0]->grad), out[0]->grad, [this](const auto& xv, const auto& gv, auto store) {
        store(gv * F<op::relu_grad>(Normalised(xv)));
      });
    Elementwise(std::tie(in[0]->data, out[0]->grad), in[0]->grad, [&](const auto& xv, const auto& gv, auto store) {
      ExprBackward(prop_grad, xv, gv, store);
    });
  }
  void VisitWeights(const WeightVisitor<xpu, DType>& v) override {
    v("gamma", gamma_.view(), ggamma_.view());
    v("beta", beta_.view(), gbeta_.view());
    if (moving_avg) {
      v("moving_mean", moving_mean_.view(), gmoving_.view());
      v("moving_var", moving_var_.view(), gmoving_var_.view());
    }
  }

 private:
  Tensor<xpu, 4, DType> View(const Tensor<xpu, 4, DType>& t) const { return t.View(shape_); }
  BnDims Dims() const { return {shape_[0], shape_[1], shape_[2] * shape_[3]}; }
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  // The stats kernels' scratch for the current shape: the call's partial sums (from the pass's
  // gap where they fit) and the kept counts, sized (and cleared on `stream`) where the shape
  // changed since InferShape; and k1_, sized on first use.
  BnScratch Scratch(const PassBuffer& partials, void* stream) {
    const index_t n = index_t(BnCountWords(Dims()));
    if (counts_.shape_[0] != n) {
      counts_.Resize(Shape1(n));
      BnCountsClear(Dims(), reinterpret_cast<unsigned*>(counts_.dptr_), stream);
    }
    if (k1_.shape_[0] != shape_[1]) k1_.Resize(Shape1(shape_[1]));
    return {static_cast<double*>(partials.p), reinterpret_cast<unsigned*>(counts_.dptr_)};
  }
#endif
  // y = the normalised x, plus a fused sum's other input, relu'd if fused; from the
  // per-channel scale_ and shift_.
  void Apply(const NodeList& in, const Tensor<xpu, 4, DType>& y) const {
    if (add_) {
      Elementwise(std::tie(in[0]->data, in[1]->data), y, [this](const auto& xv, const auto& sv, auto store) {
        if (relu_)
          store(F<op::relu>(Normalised(xv) + sv));
        else
          store(Normalised(xv) + sv);
      });
      return;
    }
    Elementwise(std::tie(in[0]->data), y, [this](const auto& xv, auto store) {
      if (relu_)
        store(F<op::relu>(Normalised(xv)));
      else
        store(Normalised(xv));
    });
  }
  // A fused sum's backward: its relu's mask applied to the output's gradient in place, which is
  // then the addend's gradient: a copy where the net did not give it the same buffer. The mask
  // from the sum recomputed from x and the addend by the forward's own expression (so the same
  // decisions) where the addend's value outlives this backward anyway (AddendOutlivesBackward),
  // else from the output: whichever holds no value longer than the step needs it otherwise.
  // (Always from the output, ResNet-50's stand-in peak on umbra's batch norm was 47 MiB over
  // the unfused net's; always from the addend, 735 MiB.)
  // masked: the mask is in gy already (the GPU's backward sums applied it).
  void AddendBackward(bool prop_grad, const NodeList& in, const NodeList& out, bool masked) const {
    if (relu_ && !masked) {
      if (mask_from_addend_)
        Elementwise(std::tie(in[0]->data, in[1]->data, out[0]->grad), out[0]->grad,
                    [this](const auto& xv, const auto& sv, const auto& gv, auto store) {
                      store(gv * F<op::relu_grad>(Normalised(xv) + sv));
                    });
      else
        Elementwise(std::tie(out[0]->data, out[0]->grad), out[0]->grad,
                    [](const auto& yv, const auto& gv, auto store) { store(gv * F<op::relu_grad>(yv)); });
    }
    if (prop_grad && in[1]->grad.dptr_ != out[0]->grad.dptr_)
      Elementwise(std::tie(out[0]->grad), in[1]->grad, [](const auto& gv, auto store) { store(F<op::identity>(gv)); });
  }
  template <typename X>
  auto Normalised(const X& x) const {
    return F<BnScale>(x, broadcast<1>(scale_.view(), shape_)) + broadcast<1>(shift_.view(), shape_);
  }
  // Runs body(src..., store) on nodes' tensors src (std::tie) seen as shape_, where store(e)
  // assigns a float expression e to dst (seen as shape_ only then: an input's gradient may not
  // exist): float tensors as they are, or with bf16 nodes their values widened to float (the
  // GPU's expression path only), e rounded once as it is stored.
  template <typename... Src, typename Body>
  void Elementwise(const std::tuple<Src&...>& src, const Tensor<xpu, 4, DType>& dst, Body body) const {
    if constexpr (kGpuStats) {
      if (nodes16_) {
        std::apply([&](const auto&... t) {
          body(tcast<float>(AsBf16(t))..., [&](const auto& e) {
            Tensor<xpu, 4, Bf16> d16 = AsBf16(dst);
            d16 = tcast<Bf16>(e);
          });
        }, src);
        return;
      }
    }
    std::apply([&](const auto&... t) {
      body(View(t)..., [&](const auto& e) {
        Tensor<xpu, 4, DType> d = View(dst);
        d = e;
      });
    }, src);
  }
  // A bf16 node's values as bf16 elements of shape_.
  Tensor<xpu, 4, Bf16> AsBf16(const Tensor<xpu, 4, DType>& t) const {
    return Tensor<xpu, 4, Bf16>(reinterpret_cast<Bf16*>(t.dptr_), shape_, t.stream_);
  }
  // The expression path's backward from the gradient gy of the normalised output (views or
  // widened bf16 values of x and gy); store(e) writes the input gradient.
  template <typename X, typename G, typename Store>
  void ExprBackward(bool prop_grad, const X& x, const G& gy, Store store) {
    const auto xhat = (x - broadcast<1>(mean_.view(), shape_)) *
                      broadcast<1>(inv_std_.view(), shape_);
    Tensor<xpu, 1, DType> gg = ggamma_.view()[0], gb = gbeta_.view()[0];
    // tmp_ = sum gy, tmp2_ = sum gy * xhat per channel: the beta and gamma gradients, and the
    // two projections the input gradient removes.
    tmp_ = sumall_except_dim<1>(gy);
    tmp2_ = sumall_except_dim<1>(gy * xhat);
    gb += tmp_.view();
    gg += tmp2_.view();
    if (!prop_grad) return;
    const Tensor<xpu, 1, DType> gamma = gamma_.view()[0];
    if (used_batch_) {
      // d/dx of batch statistics: gx = gamma inv_std (gy - mean(gy) - xhat mean(gy xhat)).
      const DType inv_m = DType(double(shape_[1]) / double(shape_.Size()));
      tmp_ = tmp_.view() * inv_m;
      tmp2_ = tmp2_.view() * inv_m;
      store((gy - broadcast<1>(tmp_.view(), shape_) - xhat * broadcast<1>(tmp2_.view(), shape_)) *
            broadcast<1>(gamma, shape_) * broadcast<1>(inv_std_.view(), shape_));
    } else {
      // Moving statistics are constants of the forward pass (cuDNN's inference forward leaves
      // scale_ unset: computed here).
      tmp_ = gamma * inv_std_.view();
      store(gy * broadcast<1>(tmp_.view(), shape_));
    }
  }

  Shape<4> shape_;  // the input as (N, C, H, W), vectors as (N, len, 1, 1), channels-last as (NHW, C, 1, 1)
  bool nhwc_ = false;
  bool used_batch_ = true;
  index_t per_channel_ = 0;  // values a channel in a pass (InferShape)
  bool relu_ = false;  // a relu fused in (FuseRelu)
  bool add_ = false;   // a sum fused in (FuseAdd): input 1 is added to the output
  bool mask_from_addend_ = false;  // its relu's mask recomputed from input 1, not read from y
  bool nodes16_ = false;  // bf16 nodes (the GPU: cuDNN, or the expressions on widened values)
  TensorContainer<xpu, 2, DType> gamma_, beta_, ggamma_, gbeta_;
  TensorContainer<xpu, 2, DType> moving_mean_, moving_var_, gmoving_, gmoving_var_;
  TensorContainer<xpu, 1, DType> mean_, inv_std_, tmp_, tmp2_;
  TensorContainer<xpu, 1, DType> scale_, shift_;  // y = x * scale + shift per channel (the last forward)
  TensorContainer<xpu, 4, DType> scratch_;  // cuDNN's unwanted input gradient (no prop_grad)
  TensorContainer<xpu, 1, DType> k1_;       // gamma * inv_std (GPU stats path's backward)
  TensorContainer<xpu, 1, DType> counts_;   // the stats kernels' counts (BnScratch; 4-byte words)
  std::unique_ptr<BnBackend> backend_;      // gpu float with cuDNN; null: the expressions
};

template <typename xpu, typename DType>
using BatchNormMALayer = BatchNormLayer<true, xpu, DType>;
template <typename xpu, typename DType>
using BatchNormNoMALayer = BatchNormLayer<false, xpu, DType>;

}  // namespace umbra::nn
