// prelu: y = x > 0 ? x : slope_c x with a learnable slope per channel c of (N, C, H, W) (He et
// al. 2015); a vector node (N, 1, 1, len) gets one slope per unit, so prelu can follow fullc.
// rrelu (and insanity, cxxnet's name): randomized leaky relu (Xu et al. 2015); in training each
// element's negative part is divided by a ~ U(lb, ub) (from ctx.rnd, kept for backward), at test
// by (lb + ub) / 2, as cxxnet's. Defaults: rrelu lb = 3, ub = 8 (the range of PyTorch's
// slopes, 1/8 .. 1/3, as divisors), insanity cxxnet's lb = 5, ub = 10. Fixed-slope activations:
// activation-inl.h.
#pragma once

#include "param_layer.h"

namespace umbra::nn {

namespace prelu_op {
/// x > 0 ? x : s x, with s the slope (prelu) or 1 / divisor (rrelu).
struct prelu {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType s) { return x > DType(0) ? x : s * x; }
};
/// d prelu / dx, from x or from y (same sign when s > 0).
struct prelu_grad {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType s) { return x > DType(0) ? DType(1) : s; }
};
/// Per-element part of d loss / d slope: x g where x <= 0.
struct prelu_slope_grad {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType g) { return x > DType(0) ? DType(0) : x * g; }
};
}  // namespace prelu_op

struct PReluParam {
  float init_slope = 0.25f;
  bool random_slope = false;
  static const ParamDecl<PReluParam>& Decl() {
    static const ParamDecl<PReluParam> d = [] {
      ParamDecl<PReluParam> d;
      d.Field(&PReluParam::init_slope, "init_slope", "initial slope of negative inputs");
      d.Field(&PReluParam::random_slope, "random_slope",
              "1: each initial slope drawn from U(0, init_slope) (cxxnet's), 0: every slope init_slope");
      return d;
    }();
    return d;
  }
};

template <typename xpu, typename DType>
class PReluLayer : public ParamLayer<PReluParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "prelu"; }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    const Shape<4>& s = in[0];
    UMBRA_CHECK(s.Size() > 0, this->Describe(), ": empty input ", s);
    // Seen as (N, C', H', W') with one slope per C': a vector's units become its channels.
    view_ = s[1] == 1 && s[2] == 1 ? Shape4(s[0], s[3], 1, 1) : s;
    return {s};
  }
  void InitWeights(Random<xpu, DType>& rnd) override {
    slope_.Resize(Shape2(1, view_[1]), DType(this->p_.init_slope));
    if (this->p_.random_slope) {
      Tensor<xpu, 2, DType> s = slope_.view();
      rnd.SampleUniform(&s, DType(0), DType(1));
      s *= DType(this->p_.init_slope);  // as cxxnet: U(0, 1) scaled, for a negative init_slope too
    }
    this->ResizeGrad(gslope_, Shape2(1, view_[1]));
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 4, DType> x = View(in[0]->data), y = View(out[0]->data);
    y = F<prelu_op::prelu>(x, broadcast<1>(slope_.view()[0], view_));
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 4, DType> x = View(in[0]->data), gy = View(out[0]->grad);
    Tensor<xpu, 1, DType> gs = gslope_.view()[0];
    gs += sumall_except_dim<1>(F<prelu_op::prelu_slope_grad>(x, gy));
    if (prop_grad) {
      Tensor<xpu, 4, DType> gx = View(in[0]->grad);
      gx = gy * F<prelu_op::prelu_grad>(x, broadcast<1>(slope_.view()[0], view_));
    }
  }
  void VisitWeights(const WeightVisitor<xpu, DType>& v) override {
    v("slope", slope_.view(), gslope_.view());
  }

 private:
  Tensor<xpu, 4, DType> View(const Tensor<xpu, 4, DType>& t) const {
    return t.view().View(view_);
  }
  Shape<4> view_;
  TensorContainer<xpu, 2, DType> slope_, gslope_;
};

/// rrelu's and insanity's keys: the same, with their own defaults (kLb, kUb).
template <int kLb, int kUb>
struct RandomDivisorParam {
  float lb = float(kLb), ub = float(kUb);
  static const ParamDecl<RandomDivisorParam>& Decl() {
    static const ParamDecl<RandomDivisorParam> d = [] {
      ParamDecl<RandomDivisorParam> d;
      d.Field(&RandomDivisorParam::lb, "lb", "lower bound of the random divisor of negative inputs (> 0)");
      d.Field(&RandomDivisorParam::ub, "ub", "upper bound of the random divisor (>= lb)");
      return d;
    }();
    return d;
  }
};
using RReluParam = RandomDivisorParam<3, 8>;
using InsanityParam = RandomDivisorParam<5, 10>;  // cxxnet's defaults

/// In place is allowed: y and x have the same sign, so backward reads y.
template <typename xpu, typename DType, typename P = RReluParam>
class RReluLayer : public ParamLayer<P, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "rrelu"; }
  bool AllowInplace() const override { return true; }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    const P& p = this->p_;
    UMBRA_CHECK(p.lb > 0 && p.ub >= p.lb, this->Describe(), ": keys 'lb' and 'ub' need 0 < lb <= ub, got lb = ",
                p.lb, ", ub = ", p.ub);
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {in[0]};
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType>& x = in[0]->data.view();
    Tensor<xpu, 4, DType> y = out[0]->data.view();
    // inv_ holds 1 / divisor per element: drawn in training, the mean divisor at test.
    inv_.Resize(x.shape_);
    if (ctx.is_train) {
      UMBRA_CHECK(ctx.rnd != nullptr, this->Describe(), ": training needs a random generator");
      ctx.rnd->SampleUniform(&inv_, DType(this->p_.lb), DType(this->p_.ub));
      inv_ = DType(1) / inv_.view();
    } else {
      inv_ = DType(2) / DType(this->p_.lb + this->p_.ub);
    }
    y = F<prelu_op::prelu>(x, inv_.view());
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 4, DType> gx = in[0]->grad.view();
    gx = out[0]->grad.view() * F<prelu_op::prelu_grad>(out[0]->data.view(), inv_.view());
  }

 private:
  TensorContainer<xpu, 4, DType> inv_;
};

/// cxxnet's name for rrelu, with cxxnet's default bounds.
template <typename xpu, typename DType>
class InsanityLayer : public RReluLayer<xpu, DType, InsanityParam> {
 public:
  const char* Type() const override { return "insanity"; }
};

}  // namespace umbra::nn

#define UMBRA_REGISTER_PRELU(xpu, DType)                                                        \
  UMBRA_REGISTER_LAYER(xpu, DType, "prelu", umbra::nn::PReluLayer, umbra::nn::PReluParam);      \
  UMBRA_REGISTER_LAYER(xpu, DType, "rrelu", umbra::nn::RReluLayer, umbra::nn::RReluParam);      \
  UMBRA_REGISTER_LAYER(xpu, DType, "insanity", umbra::nn::InsanityLayer, umbra::nn::InsanityParam)
