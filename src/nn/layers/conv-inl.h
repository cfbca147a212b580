// conv: 2-D convolution as cxxnet had it, im2col + GEMM with optional groups (ngroup).
// Weight wmat (nchannel, C/ngroup * kh * kw), bias (1, nchannel); output (N, nchannel, oh, ow)
// with oh = (H + 2 pad_y - kh) / stride + 1 (floor, as cxxnet/Caffe convolution).
// The batch is processed in chunks of images so that the column buffer (C*kh*kw, b*oh*ow) stays
// under temp_col_max << 18 elements (cxxnet's key and unit) and b <= N. Default 4 (1M elements,
// 4 MiB): measured on the 2-core CPU machine (bench_train), 4 beat 1, 16 and cxxnet's 64 by
// 5-25% on LeNet and CIFAR-quick, because im2col's output is then still in cache for the GEMM.
// In float, a library convolution is used when available: oneDNN's on the CPU (conv_dnnl.h),
// cuDNN's on the GPU (cudnn/conv_cudnn.h, grouped too, algorithms chosen by measurement under
// cudnn_workspace, TF32 by key tf32 as PyTorch allows it in convolutions). Key algo=im2col forces
// the reference path, which double always takes; its GEMMs follow the global tf32_matmul switch
// (cuBLAS), not the tf32 key. dtype=bf16 convolves bfloat16 copies in cuDNN (fp32 at the
// layer's interface, autocast-style); without cuDNN, and on the CPU, it computes in fp32.
// In a channels-last net (NetSpec::channels_last) the cuDNN path takes (N, H, W, C) nodes and
// gives (N, OH, OW, nchannel) ones, the weights staying (nchannel, C/ngroup, kh, kw).
// Not here: im2col itself (tensor/ext/patch2col.h).
#pragma once

#include <algorithm>

#include <memory>
#include <type_traits>

#include "bf16_cast.h"
#include "conv_dnnl.h"
#include "cudnn/conv_cudnn.h"
#include "param_layer.h"

namespace umbra::nn {

struct ConvParam : InitParam {
  int nchannel = 0;
  int kernel_size = 0, kernel_height = 0, kernel_width = 0;
  int stride = 1;
  int pad = 0, pad_y = -1, pad_x = -1;
  int ngroup = 1;
  bool no_bias = false;
  int temp_col_max = 4;
  std::string algo = "auto";
  int cudnn_workspace = 1024;
  std::string cudnn_search = "all";
  bool tf32 = true;
  std::string dtype = "float32";
  static const ParamDecl<ConvParam>& Decl() {
    static const ParamDecl<ConvParam> d = [] {
      ParamDecl<ConvParam> d;
      d.Field(&ConvParam::nchannel, "nchannel", "number of output channels").Min(1).Required();
      d.Field(&ConvParam::kernel_size, "kernel_size", "square kernel side").Min(1)
          .Then([](ConvParam& q) { q.kernel_height = q.kernel_width = 0; });
      d.Field(&ConvParam::kernel_height, "kernel_height", "kernel rows (default: kernel_size)").Min(1);
      d.Field(&ConvParam::kernel_width, "kernel_width", "kernel columns (default: kernel_size)").Min(1);
      d.Field(&ConvParam::stride, "stride", "step between windows, both axes").Min(1);
      d.Field(&ConvParam::pad, "pad", "zero padding on each side, both axes").Min(0)
          .Then([](ConvParam& q) { q.pad_y = q.pad_x = -1; });
      // -1, the default, may be written too (the help gives it as the default).
      d.Field(&ConvParam::pad_y, "pad_y", "zero padding of rows (-1: pad's)").Min(-1);
      d.Field(&ConvParam::pad_x, "pad_x", "zero padding of columns (-1: pad's)").Min(-1);
      d.Field(&ConvParam::ngroup, "ngroup", "groups: input and output channels split alike")
          .Min(1);
      d.Field(&ConvParam::no_bias, "no_bias", "1: no bias term");
      d.Field(&ConvParam::algo, "algo",
              "float implementation: auto (oneDNN's convolution on the CPU, cuDNN's on the GPU, "
              "when built with them) or im2col (column buffer + GEMM, the reference path); cxxnet's "
              "cuDNN choices fast and balance are auto (its algorithm timed within cudnn_workspace)")
          .OneOf({"auto", "im2col", "fast", "balance"})
          .Then([](ConvParam& q) {
            if (q.algo == "fast" || q.algo == "balance") q.algo = "auto";
          });
      d.Field(&ConvParam::cudnn_workspace, "cudnn_workspace",
              "GPU: largest cuDNN workspace an algorithm may use, MiB").Min(0);
      d.Field(&ConvParam::cudnn_search, "cudnn_search",
              "GPU: what cuDNN's algorithm search times: all (its algorithms, its graph API's engine "
              "configurations, umbra's GEMMs in fp32 NCHW), legacy (without the engine configurations) or "
              "engines (those alone)")
          .OneOf({"all", "legacy", "engines"});
      d.Field(&ConvParam::tf32, "tf32", "GPU: allow TF32 tensor cores in cuDNN convolutions (PyTorch's default)");
      d.Field(&ConvParam::dtype, "dtype",
              "GPU with cuDNN: float32, or bf16 (bfloat16 operands, fp32 accumulation and master weights)")
          .OneOf({"float32", "bf16"});
      d.Field(&ConvParam::temp_col_max, "temp_col_max",
              "column buffer cap in units of 2^18 elements (cxxnet)").Min(1);
      return DeclareInit(d);
    }();
    return d;
  }
  index_t KernelY() const { return kernel_height > 0 ? kernel_height : kernel_size; }
  index_t KernelX() const { return kernel_width > 0 ? kernel_width : kernel_size; }
  index_t PadY() const { return pad_y >= 0 ? pad_y : pad; }
  index_t PadX() const { return pad_x >= 0 ? pad_x : pad; }
  static CudnnSearch SearchOf(const std::string& s) {
    return s == "legacy" ? CudnnSearch::kLegacy : s == "engines" ? CudnnSearch::kEngines : CudnnSearch::kAll;
  }
};

template <typename xpu, typename DType>
class ConvolutionLayer : public ParamLayer<ConvParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "conv"; }

  // Channels-last where cuDNN convolves: the GPU in float (algo auto).
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override {
    if constexpr (kGpuFloat<xpu, DType>)
      if (this->p_.algo == "auto" && CudnnBuilt()) return Layout::kNhwc;
    return Layout::kNchw;
  }
  void SetChannelsLast() override { nhwc_ = true; }
  // bf16 nodes (NetSpec::bf16_nodes) where the convolution is cuDNN's in bf16 anyway: its
  // operands are then the nodes themselves, with no cast in or out.
  BF16Nodes TakesBF16(const std::vector<Shape<4>>&) const override {
    if constexpr (kGpuFloat<xpu, DType>)
      if (this->p_.algo == "auto" && this->p_.dtype == "bf16" && CudnnBuilt()) return BF16Nodes::kPrefer;
    return BF16Nodes::kNo;
  }
  void SetBF16() override { nodes16_ = true; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    const ConvParam& q = this->p_;
    // The input as (N, C, H, W), whichever layout holds it.
    const Shape<4> s = nhwc_ ? NchwOf(in[0]) : in[0];
    patch_ = PatchParam{.kh = q.KernelY(), .kw = q.KernelX(), .sh = index_t(q.stride),
                    .sw = index_t(q.stride), .ph = q.PadY(), .pw = q.PadX()};
    UMBRA_CHECK(patch_.kh > 0 && patch_.kw > 0, this->Describe(),
                ": kernel_size (or kernel_height and kernel_width) must be set");
    UMBRA_CHECK(s[1] % q.ngroup == 0 && q.nchannel % q.ngroup == 0, this->Describe(),
                ": ngroup ", q.ngroup, " must divide input channels of ", s, " and nchannel ",
                q.nchannel);
    UMBRA_CHECK(s.Size() > 0, this->Describe(), ": empty input ", s);
    UMBRA_CHECK(s[2] + 2 * patch_.ph >= patch_.kh && s[3] + 2 * patch_.pw >= patch_.kw,
                this->Describe(), ": input ", s, " is smaller than the kernel ", patch_.kh, "x",
                patch_.kw, " with pad ", patch_.ph, "x", patch_.pw);
    ishape_ = s;
    oh_ = patch_.OutH(s[2]), ow_ = patch_.OutW(s[3]);
    // Checked before a backend is made for it (Net checks every output, but after InferShape):
    // oneDNN divided by zero (SIGFPE) making a convolution padded by 1e9 both ways.
    UMBRA_CHECK(double(s[0]) * double(q.nchannel) * double(oh_) * double(ow_) <= kMaxNodeElements, this->Describe(),
                ": output shape (", s[0], ",", q.nchannel, ",", oh_, ",", ow_,
                ") is too large (more than 2^40 elements)");
    // The weights, in double: kernel_size = 2^31 - 1 wrapped their size to a negative one.
    // (krows_ is at most the weights' size, as nchannel is a multiple of ngroup.)
    const double weights = double(q.nchannel) * double(s[1] / q.ngroup) * double(patch_.kh) * double(patch_.kw);
    UMBRA_CHECK(weights <= kMaxNodeElements, this->Describe(), ": weights of shape (", q.nchannel, ",", s[1] / q.ngroup,
                "x", patch_.kh, "x", patch_.kw, ") are too large (more than 2^40 elements)");
    krows_ = s[1] * patch_.kh * patch_.kw;  // rows of the column buffer
    const index_t cap = index_t(q.temp_col_max) << 18;
    chunk_ = std::clamp<index_t>(index_t(std::min(double(cap) / std::max(1.0, double(krows_) * oh_ * ow_), double(s[0]))),
                                 1, s[0]);
    if constexpr (std::is_same_v<xpu, cpu> && std::is_same_v<DType, float>) {
      // What the net would refuse for its memory, refused before oneDNN is asked: a primitive
      // for nchannel = 2^31 - 1 "could not be created", naming no size.
      umbra::detail::CheckHostRoom(size_t((weights + double(s[0]) * q.nchannel * oh_ * ow_) * sizeof(DType)));
      if (q.algo == "auto")
        backend_ = MakeDnnlConv(s[0], s[1], s[2], s[3], q.nchannel, oh_, ow_, q.ngroup, patch_.kh,
                                patch_.kw, patch_.sh, patch_.sw, patch_.ph, patch_.pw, !q.no_bias);
    } else if constexpr (std::is_same_v<DType, float>) {
      // umbra's gpu work runs on the default stream for now (tensors' stream_ is null).
      if (q.algo == "auto")
        backend_ = MakeCudnnConv(s[0], s[1], s[2], s[3], q.nchannel, oh_, ow_, q.ngroup, patch_.kh,
                                 patch_.kw, patch_.sh, patch_.sw, patch_.ph, patch_.pw, !q.no_bias,
                                 CudnnConvOptions{q.cudnn_workspace, q.tf32, q.dtype == "bf16", nodes16_, nhwc_,
                                                  ConvParam::SearchOf(q.cudnn_search)},
                                 nullptr);
    }
    // bf16 is cuDNN's: without it (algo = im2col, no cuDNN) the layer ran in float32, unsaid.
    if constexpr (!std::is_same_v<xpu, cpu>)
      UMBRA_CHECK(backend_ || q.dtype != "bf16", this->Describe(), ": dtype = bf16 needs cuDNN's convolution (",
                  CudnnBuilt() ? "algo = auto" : "a build with cuDNN", "); algo = ", q.algo,
                  " convolves in float32");
    UMBRA_CHECK(backend_ || !nodes16_, this->Describe(), ": bf16 nodes need cuDNN's bf16 convolution");
    if (nhwc_) {
      UMBRA_CHECK(backend_, this->Describe(), ": channels-last needs cuDNN's convolution");
      return {Shape4(s[0], oh_, ow_, q.nchannel)};
    }
    return {Shape4(s[0], q.nchannel, oh_, ow_)};
  }
  void InitWeights(Random<xpu, DType>& rnd) override {
    const index_t m = this->p_.nchannel, k = krows_ / this->p_.ngroup;
    wmat_.Resize(Shape2(m, k));
    this->ResizeGrad(gwmat_, Shape2(m, k));
    // cxxnet's fan rule for conv: fan_in = columns of wmat, fan_out = its rows, a group's
    // (cxxnet's wmat was (ngroup, nchannel / ngroup, k): random_type = xavier's bound with
    // ngroup = 2 was sqrt(3 / (k + nchannel / 2))); kaiming's outputs as cxxnet: nchannel x
    // kernel area.
    const index_t fan_out = this->p_.cxxnet_rule ? m / this->p_.ngroup : m;
    InitWeight(this->p_, wmat_.view(), k, fan_out, m * this->p_.KernelY() * this->p_.KernelX(), rnd);
    if (!this->p_.no_bias) {
      bias_.Resize(Shape2(1, m), DType(this->p_.init_bias));
      this->ResizeGrad(gbias_, Shape2(1, m));
    }
  }
  // A relu after it (Layer::FuseRelu) is applied with the bias in one pass over the output,
  // where the bias and the relu were a pass each (with dtype=bf16, cuDNN's backend does both as
  // it converts its bf16 output back, which was a pass of its own too); backward masks the
  // output's gradient in place first (reading the output, as the relu's backward did). Not on
  // oneDNN, whose primitive adds the bias as it writes the output: there the relu runs as
  // written.
  // Backward masks the output gradient in place only for a fused relu.
  bool RewritesOutputGrad() const override { return relu_; }
  std::string Implementation() const override {
    std::string d = backend_ ? backend_->Describe() : "im2col + GEMM";
    return relu_ ? d + "; relu fused" : d;
  }
  bool FuseRelu() override {
    if constexpr (std::is_same_v<xpu, cpu>) {
      if (backend_) return false;
    }
    relu_ = true;
    return true;
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType>& x = in[0]->data;
    Tensor<xpu, 4, DType> y = out[0]->data;
    if constexpr (std::is_same_v<DType, float>) {
      if (backend_) {
        // The relu, and then the bias, go to the backend where it converts its output anyway.
        const bool own = relu_ && !backend_->FusesRelu();
        backend_->Forward(x.dptr_, wmat_.dptr_, this->p_.no_bias || own ? nullptr : bias_.dptr_, y.dptr_,
                          relu_ && !own, ctx.is_train);
        if (own) BiasRelu(y);
        return;
      }
    }
    Buffers(x.stream_);
    for (index_t n0 = 0; n0 < ishape_[0]; n0 += chunk_) {
      const index_t b = std::min(chunk_, ishape_[0] - n0);
      Tensor<xpu, 2, DType> col = Col(b), tmp = Tmp(b);
      col = unpack_patch2col(x.Slice(n0, n0 + b), patch_);
      GroupDots(tmp, col);
      // GEMM columns run (image, oy, ox): swap image and channel to get (b, nchannel, oh*ow).
      Tensor<xpu, 3, DType> yb = y.Slice(n0, n0 + b).View(Shape3(b, y.size(1), oh_ * ow_));
      yb = swapaxis<0, 1>(tmp.View(Shape3(y.size(1), b, oh_ * ow_)));
    }
    if (relu_)
      BiasRelu(y);
    else if (!this->p_.no_bias)
      y += broadcast<1>(bias_.view()[0], y.shape_);
  }
  // Gradients need x and dy; y only for a fused relu's mask.
  bool BackwardReadsOutput(int) const override { return relu_; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType>& x = in[0]->data;
    const Tensor<xpu, 4, DType>& gy = out[0]->grad;
    if (relu_ && nodes16_) {
      if constexpr (kGpuFloat<xpu, DType>)
        ReluMaskBF16(reinterpret_cast<uint16_t*>(gy.dptr_), reinterpret_cast<const uint16_t*>(out[0]->data.dptr_),
                     gy.shape_.Size(), Stream<xpu>::GetStream(gy.stream_));
    } else if (relu_) {
      Tensor<xpu, 4, DType> g = gy;
      g = g * F<op::relu_grad>(out[0]->data);
    }
    const index_t m = this->p_.nchannel, g = this->p_.ngroup, mg = m / g, kg = krows_ / g;
    if constexpr (std::is_same_v<DType, float>) {
      if (backend_ && backend_->AccumulatesWeights()) {
        backend_->Backward(x.dptr_, gy.dptr_, wmat_.dptr_, gwmat_.dptr_, this->p_.no_bias ? nullptr : gbias_.dptr_,
                           prop_grad ? in[0]->grad.dptr_ : nullptr);
        return;
      }
      if (backend_) {
        // Backends that write gradients: the layer contract accumulates them into gwmat_/gbias_.
        if (!dgw_.dptr_) dgw_.Resize(wmat_.shape_);
        if (!this->p_.no_bias && !dgb_.dptr_) dgb_.Resize(bias_.shape_);
        backend_->BackwardWeights(x.dptr_, gy.dptr_, dgw_.dptr_, this->p_.no_bias ? nullptr : dgb_.dptr_);
        gwmat_ += dgw_.view();
        if (!this->p_.no_bias) gbias_ += dgb_.view();
        if (prop_grad) backend_->BackwardData(gy.dptr_, wmat_.dptr_, in[0]->grad.dptr_);
        return;
      }
    }
    Buffers(x.stream_);
    if (!this->p_.no_bias) {
      Tensor<xpu, 1, DType> gb = gbias_.view()[0];
      gb += sumall_except_dim<1>(gy);
    }
    for (index_t n0 = 0; n0 < ishape_[0]; n0 += chunk_) {
      const index_t b = std::min(chunk_, ishape_[0] - n0);
      Tensor<xpu, 2, DType> col = Col(b), tmp = Tmp(b);
      Tensor<xpu, 3, DType> t3 = tmp.View(Shape3(m, b, oh_ * ow_));
      t3 = swapaxis<0, 1>(gy.Slice(n0, n0 + b).View(Shape3(b, m, oh_ * ow_)));
      col = unpack_patch2col(x.Slice(n0, n0 + b), patch_);
      Tensor<xpu, 2, DType> gw = gwmat_.view();
      for (index_t i = 0; i < g; ++i)
        gw.Slice(i * mg, (i + 1) * mg) +=
            dot(tmp.Slice(i * mg, (i + 1) * mg), col.Slice(i * kg, (i + 1) * kg).T());
      if (!prop_grad) continue;
      const Tensor<xpu, 2, DType>& w = wmat_.view();
      for (index_t i = 0; i < g; ++i)
        col.Slice(i * kg, (i + 1) * kg) =
            dot(w.Slice(i * mg, (i + 1) * mg).T(), tmp.Slice(i * mg, (i + 1) * mg));
      Tensor<xpu, 4, DType> gx = in[0]->grad.Slice(n0, n0 + b);
      gx = pack_col2patch(col, gx.shape_, patch_);
    }
  }
  void VisitWeights(const WeightVisitor<xpu, DType>& v) override {
    v("wmat", wmat_.view(), gwmat_.view());
    if (!this->p_.no_bias) v("bias", bias_.view(), gbias_.view());
  }

 private:
  // y = max(0, y + bias), the bias per channel: dimension 1, or 3 of a channels-last output.
  void BiasRelu(Tensor<xpu, 4, DType>& y) const {
    if (this->p_.no_bias)
      y = F<op::relu>(y);
    else if (nhwc_)
      y = F<op::relu>(y + broadcast<3>(bias_.view()[0], y.shape_));
    else
      y = F<op::relu>(y + broadcast<1>(bias_.view()[0], y.shape_));
  }
  // tmp (nchannel, b*oh*ow) = W col, one GEMM per group on matching row blocks.
  void GroupDots(Tensor<xpu, 2, DType> tmp, Tensor<xpu, 2, DType> col) {
    const index_t g = this->p_.ngroup, mg = this->p_.nchannel / g, kg = krows_ / g;
    const Tensor<xpu, 2, DType>& w = wmat_.view();
    for (index_t i = 0; i < g; ++i)
      tmp.Slice(i * mg, (i + 1) * mg) =
          dot(w.Slice(i * mg, (i + 1) * mg), col.Slice(i * kg, (i + 1) * kg));
  }
  void Buffers(Stream<xpu>* s) {
    col_.set_stream(s), tmp_.set_stream(s);
    col_.Resize(Shape1(krows_ * chunk_ * oh_ * ow_));
    tmp_.Resize(Shape1(index_t(this->p_.nchannel) * chunk_ * oh_ * ow_));
  }
  Tensor<xpu, 2, DType> Col(index_t b) const {
    return Tensor<xpu, 2, DType>(col_.dptr_, Shape2(krows_, b * oh_ * ow_), col_.stream_);
  }
  Tensor<xpu, 2, DType> Tmp(index_t b) const {
    return Tensor<xpu, 2, DType>(tmp_.dptr_, Shape2(this->p_.nchannel, b * oh_ * ow_),
                                 tmp_.stream_);
  }

  PatchParam patch_;
  bool nhwc_ = false;  // channels-last nodes (cuDNN only)
  bool nodes16_ = false;  // bf16 nodes (cuDNN's bf16 convolution only)
  Shape<4> ishape_;
  index_t oh_ = 0, ow_ = 0, krows_ = 0, chunk_ = 1;
  TensorContainer<xpu, 2, DType> wmat_, gwmat_, bias_, gbias_;
  bool relu_ = false;  // a relu fused in (FuseRelu)
  TensorContainer<xpu, 1, DType> col_, tmp_;  // scratch, reused across calls
  TensorContainer<xpu, 2, DType> dgw_, dgb_;    // the library's (written) weight gradients
  // float with oneDNN (cpu) or cuDNN (gpu); null: the im2col path
  std::unique_ptr<ConvBackend> backend_;
};

}  // namespace umbra::nn
