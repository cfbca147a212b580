// lrn: cxxnet's local response normalisation across channels (AlexNet). With the window W(c)
// of local_size channels centred on c (clipped at the edges):
//   s = knorm + alpha/local_size * sum_{c' in W(c)} x_c'^2,   y = x * s^-beta.
// Backward (W symmetric, so c' in W(c) <=> c in W(c')):
//   dx_c = g_c s_c^-beta - 2 alpha beta/local_size * x_c * sum_{c' in W(c)} g_c' y_c' / s_c'.
// s is kept from Forward. Expressions: chpool in tensor/ext/pool.h. With bf16 nodes
// (NetSpec::bf16_nodes, the GPU) the same expressions run over the widened values, s kept in
// float, each output rounded once as it is stored (cxxnet's AlexNet normalises after its first
// two convolutions: no conversions around them).
#pragma once

#include "param_layer.h"
#include "umbra/tensor/bf16.h"

namespace umbra::nn {

// cxxnet's defaults: local_size 3, knorm 1; its alpha and beta had none (left unset, whatever
// the memory held), so they must be given.
struct LrnParam {
  int local_size = 3;
  float alpha = 0.f, beta = 0.f, knorm = 1.f;
  static const ParamDecl<LrnParam>& Decl() {
    static const ParamDecl<LrnParam> d = [] {
      ParamDecl<LrnParam> d;
      d.Field(&LrnParam::local_size, "local_size", "channels in the window (odd)").Min(1);
      d.Field(&LrnParam::alpha, "alpha", "scale of the sum of squares (AlexNet's 0.0001)").Min(0).Required();
      d.Field(&LrnParam::beta, "beta", "exponent of the normaliser (AlexNet's 0.75)").Min(0).Required();
      d.Field(&LrnParam::knorm, "knorm", "additive constant of the normaliser (> 0)")
          .Min(1e-30);
      return d;
    }();
    return d;
  }
};

template <typename xpu, typename DType>
class LrnLayer : public ParamLayer<LrnParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "lrn"; }
  BF16Nodes TakesBF16(const std::vector<Shape<4>>& in) const override {
    return OneInputBF16(kGpuFloat<xpu, DType>, in);
  }
  void SetBF16() override { nodes16_ = true; }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    UMBRA_CHECK(this->p_.local_size % 2 == 1, this->Describe(), ": local_size ",
                this->p_.local_size, " must be odd");
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {in[0]};
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType>& x = in[0]->data;
    norm_.set_stream(x.stream_);
    norm_.Resize(x.shape_);
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {
        const auto xf = Widened(x);
        norm_ = Norm(xf);
        Tensor<xpu, 4, Bf16> y16 = ViewAs<Bf16>(out[0]->data);
        y16 = tcast<Bf16>(Normalised(xf));
        return;
      }
    }
    norm_ = Norm(x);
    Tensor<xpu, 4, DType> y = out[0]->data;
    y = Normalised(x);
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {
        Tensor<xpu, 4, Bf16> gx16 = ViewAs<Bf16>(in[0]->grad);
        gx16 = tcast<Bf16>(InputGrad(Widened(in[0]->data), Widened(out[0]->data),
                                     Widened(out[0]->grad)));
        return;
      }
    }
    Tensor<xpu, 4, DType> gx = in[0]->grad;
    gx = InputGrad(in[0]->data.view(), out[0]->data.view(), out[0]->grad.view());
  }

 private:
  // The normaliser s, the output and the input's gradient from x, y and y's gradient g (float
  // expressions over the nodes, or over their widened bf16 values).
  template <typename X>
  auto Norm(const X& x) const {
    return chpool<red::sum>(F<op::square>(x), this->p_.local_size) * Salpha() + DType(this->p_.knorm);
  }
  template <typename X>
  auto Normalised(const X& x) const {
    return x * F<op::power>(norm_.view(), DType(-this->p_.beta));
  }
  // chpool re-evaluates g*y/s at each of the local_size taps: no scratch buffer, and the
  // window is short (5), so the extra arithmetic is cheaper than a second pass over memory.
  template <typename X, typename Y, typename G>
  auto InputGrad(const X& x, const Y& y, const G& g) const {
    const DType beta = DType(this->p_.beta);
    const Tensor<xpu, 4, DType> s = norm_.view();
    return g * F<op::power>(s, -beta) -
           (DType(2) * beta * Salpha()) * x * chpool<red::sum>(g * y / s, this->p_.local_size);
  }
  DType Salpha() const { return DType(this->p_.alpha) / DType(this->p_.local_size); }
  TensorContainer<xpu, 4, DType> norm_;  // s of the last forward, float either way
  bool nodes16_ = false;  // bf16 nodes (the GPU)
};

}  // namespace umbra::nn
