// fullc: the fully-connected layer. out (N,1,1,nhidden) = in (N, C*H*W) W^T + b, W (nhidden, CHW).
// Backward: gW += gout^T in, gb += sum of gout rows, gin = gout W. Three GEMMs and one
// broadcast/reduction, all tensor expressions, so the same template runs on cpu and gpu.
// dtype=bf16 (GPU float): the three GEMMs take bfloat16 copies of their operands and accumulate
// in fp32 on tensor cores (cuBLAS GemmEx); weights, gradients and outputs stay fp32 (autocast's
// rule for matmul). The CPU computes in fp32 whatever dtype says.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "bf16_cast.h"
#include "param_layer.h"

namespace umbra::nn {

struct FullcParam : InitParam {
  int nhidden = 0;
  bool no_bias = false;
  std::string dtype = "float32";
  static const ParamDecl<FullcParam>& Decl() {
    static const ParamDecl<FullcParam> d = [] {
      ParamDecl<FullcParam> d;
      d.Field(&FullcParam::nhidden, "nhidden", "number of output units").Min(1).Required();
      d.Field(&FullcParam::no_bias, "no_bias", "1: no bias term");
      d.Field(&FullcParam::dtype, "dtype",
              "GPU products: float32, or bf16 (bfloat16 operands, fp32 accumulation and master weights)")
          .OneOf({"float32", "bf16"});
      return DeclareInit(d);
    }();
    return d;
  }
};

template <typename xpu, typename DType>
class FullcLayer : public ParamLayer<FullcParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "fullc"; }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    const Shape<4>& s = in[0];
    fan_in_ = s.ProdShape(1, 4);
    UMBRA_CHECK(fan_in_ > 0, this->Describe(), ": empty input ", s);
    return {Shape4(s[0], 1, 1, this->p_.nhidden)};
  }
  void InitWeights(Random<xpu, DType>& rnd) override {
    const index_t nh = this->p_.nhidden;
    wmat_.Resize(Shape2(nh, fan_in_));
    this->ResizeGrad(gwmat_, Shape2(nh, fan_in_));
    InitWeight(this->p_, wmat_.view(), fan_in_, nh, nh, rnd);
    if (!this->p_.no_bias) {
      bias_.Resize(Shape2(1, nh), DType(this->p_.init_bias));
      this->ResizeGrad(gbias_, Shape2(1, nh));
    }
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), y = out[0]->Mat();
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (kGpuFloat<xpu, DType>) {  // node matrices are contiguous (N, features)
      if (this->p_.dtype == "bf16") {
        const index_t n = x.size(0), k = x.size(1), m = this->p_.nhidden;
        // On the output's stream, as dot() would run (the casts and both products).
        Bf16(&x16_, x.dptr_, n * k, y.stream_);
        Bf16(&w16_, wmat_.dptr_, m * k, y.stream_);
        casts_for_backward_ = ctx.is_train;
        cuda::GemmBF16(Stream<gpu>::GetBlasHandle(y.stream_), false, true, n, m, k, 1.f, U16(x16_), k, U16(w16_), k,
                       0.f, y.dptr_, m);
        AddBias(y);
        return;
      }
    }
#endif
    y = dot(x, wmat_.view().T());
    AddBias(y);
  }
  // A relu after it (Layer::FuseRelu) goes into the bias pass; backward masks the output's
  // gradient in place first, reading the output as the relu's backward did.
  bool FuseRelu() override {
    relu_ = true;
    return true;
  }
  bool RewritesOutputGrad() const override { return relu_; }  // the fused relu's mask
  // Gradients need x and dy; y only for a fused relu's mask.
  bool BackwardReadsOutput(int) const override { return relu_; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), gy = out[0]->Mat(true);
    if (relu_) gy = gy * F<op::relu_grad>(out[0]->Mat());
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (kGpuFloat<xpu, DType>) {
      if (this->p_.dtype == "bf16") {
        const index_t n = x.size(0), k = x.size(1), m = this->p_.nhidden;
        // The training forward's copies of x and w, as autocast saves its casts for backward
        // (a pass over the weights less: AlexNet's fullc weights are 59M floats); cast again
        // where a test-mode forward has run since, or a backward has used them already.
        if (!casts_for_backward_) {
          Bf16(&x16_, x.dptr_, n * k, gy.stream_);
          Bf16(&w16_, wmat_.dptr_, m * k, gy.stream_);
        }
        casts_for_backward_ = false;
        Bf16(&gy16_, gy.dptr_, n * m, gy.stream_);
        cublasHandle_t h = Stream<gpu>::GetBlasHandle(gy.stream_);
        cuda::GemmBF16(h, true, false, m, k, n, 1.f, U16(gy16_), m, U16(x16_), k, 1.f, gwmat_.dptr_, k);
        if (!this->p_.no_bias) {
          Tensor<xpu, 1, DType> gb = gbias_.view()[0];
          gb += sum_rows(gy);
        }
        if (prop_grad) cuda::GemmBF16(h, false, false, n, k, m, 1.f, U16(gy16_), m, U16(w16_), k, 0.f,
                                      in[0]->Mat(true).dptr_, k);
        return;
      }
    }
#endif
    gwmat_ += dot(gy.T(), x);
    if (!this->p_.no_bias) {
      Tensor<xpu, 1, DType> gb = gbias_.view()[0];
      gb += sum_rows(gy);
    }
    if (prop_grad) {
      Tensor<xpu, 2, DType> gx = in[0]->Mat(true);
      gx = dot(gy, wmat_.view());
    }
  }
  void VisitWeights(const WeightVisitor<xpu, DType>& v) override {
    v("wmat", wmat_.view(), gwmat_.view());
    if (!this->p_.no_bias) v("bias", bias_.view(), gbias_.view());
  }

 private:
  // y += bias, with a fused relu y = max(0, y + bias): one pass either way.
  void AddBias(Tensor<xpu, 2, DType>& y) const {
    if (relu_ && this->p_.no_bias)
      y = F<op::relu>(y);
    else if (relu_)
      y = F<op::relu>(y + repmat(bias_.view()[0], y.size(0)));
    else if (!this->p_.no_bias)
      y += repmat(bias_.view()[0], y.size(0));
  }
  // bf16 copies live in float containers of half the element count (the caching allocator
  // serves them like any buffer).
  static void Bf16(TensorContainer<xpu, 1, DType>* buf, const float* src, index_t n, Stream<xpu>* stream) {
    if (buf->Size() < (n + 1) / 2 || !buf->dptr_) buf->Resize(Shape1((n + 1) / 2));
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    CastToBF16(src, reinterpret_cast<uint16_t*>(buf->dptr_), size_t(n), Stream<gpu>::GetStream(stream));
#else
    (void)src, (void)stream;
#endif
  }
  static const uint16_t* U16(const TensorContainer<xpu, 1, DType>& buf) {
    return reinterpret_cast<const uint16_t*>(buf.dptr_);
  }

  index_t fan_in_ = 0;
  bool relu_ = false;  // a relu fused in (FuseRelu)
  TensorContainer<xpu, 2, DType> wmat_, gwmat_, bias_, gbias_;
  TensorContainer<xpu, 1, DType> x16_, w16_, gy16_;  // dtype=bf16 operand copies (gpu)
  bool casts_for_backward_ = false;  // x16_ and w16_ hold the last training forward's operands
};

}  // namespace umbra::nn
