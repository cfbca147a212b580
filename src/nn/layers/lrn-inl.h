// lrn: cxxnet's local response normalisation across channels (AlexNet). With the window W(c)
// of local_size channels centred on c (clipped at the edges):
//   s = knorm + alpha/local_size * sum_{c' in W(c)} x_c'^2,   y = x * s^-beta.
// Backward (W symmetric, so c' in W(c) <=> c in W(c')):
//   dx_c = g_c s_c^-beta - 2 alpha beta/local_size * x_c * sum_{c' in W(c)} g_c' y_c' / s_c'.
// s is kept from Forward. Expressions: chpool in tensor/ext/pool.h.
#pragma once

#include "param_layer.h"

namespace umbra::nn {

struct LrnParam {
  int local_size = 5;
  float alpha = 0.001f, beta = 0.75f, knorm = 1.f;
  static const ParamDecl<LrnParam>& Decl() {
    static const ParamDecl<LrnParam> d = [] {
      ParamDecl<LrnParam> d;
      d.Field(&LrnParam::local_size, "local_size", "channels in the window (odd)").Min(1);
      d.Field(&LrnParam::alpha, "alpha", "scale of the sum of squares").Min(0);
      d.Field(&LrnParam::beta, "beta", "exponent of the normaliser").Min(0);
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

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    UMBRA_CHECK(this->p_.local_size % 2 == 1, this->Describe(), ": local_size ",
                this->p_.local_size, " must be odd");
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {in[0]};
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType>& x = in[0]->data;
    const index_t n = this->p_.local_size;
    norm_.set_stream(x.stream_);
    norm_.Resize(x.shape_);
    norm_ = chpool<red::sum>(F<op::square>(x), n) * Salpha() + DType(this->p_.knorm);
    Tensor<xpu, 4, DType> y = out[0]->data;
    y = x * F<op::power>(norm_.view(), DType(-this->p_.beta));
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    const Tensor<xpu, 4, DType>& x = in[0]->data;
    const Tensor<xpu, 4, DType>& s = norm_.view();
    const Tensor<xpu, 4, DType>& y = out[0]->data;
    const Tensor<xpu, 4, DType>& g = out[0]->grad;
    const DType beta = DType(this->p_.beta);
    Tensor<xpu, 4, DType> gx = in[0]->grad;
    // chpool re-evaluates g*y/s at each of the local_size taps: no scratch buffer, and the
    // window is short (5), so the extra arithmetic is cheaper than a second pass over memory.
    gx = g * F<op::power>(s, -beta) -
         (DType(2) * beta * Salpha()) * x * chpool<red::sum>(g * y / s, this->p_.local_size);
  }

 private:
  DType Salpha() const { return DType(this->p_.alpha) / DType(this->p_.local_size); }
  TensorContainer<xpu, 4, DType> norm_;
};

}  // namespace umbra::nn
