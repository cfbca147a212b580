// Elementwise regression/multi-label losses (cxxnet's l2_loss, lp_loss, multi_logistic). in
// (N, C, H, W) is seen as (N, K = C*H*W); labels ctx.label must be (N, K). Per sample the loss
// is a sum over the K features, and Loss() is its mean over the batch (PyTorch's 'mean' over
// samples, not over elements):
//   l2_loss        out = in,          sum (x - y)^2,                grad 2 (x - y) / N
//   lp_loss        out = in,          sum |x - y|^p (p >= 1),       grad p sign(x-y)|x-y|^(p-1) / N
//   multi_logistic out = sigmoid(in), sum of binary cross-entropies, grad (sigmoid(x) - y) / N
// The gradients are cxxnet's: its last version had lp_loss alone (gradient with the factor p)
// and l2_loss was it with p = 2 (an earlier L2LossLayer's gradient was x - y, half of it);
// PyTorch's MSELoss summed over features is the same. Each loss is the one its gradient is of.
// Backward multiplies by grad_scale; Loss() stays unscaled.
// Classification with one class index per sample: softmax-inl.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "loss_common.h"
#include "param_layer.h"

namespace umbra::nn {

struct L2LossParam {
  float grad_scale = 1.f;
  static const ParamDecl<L2LossParam>& Decl() {
    static const ParamDecl<L2LossParam> d = [] {
      ParamDecl<L2LossParam> d;
      d.Field(&L2LossParam::grad_scale, "grad_scale",
              "multiplies the gradient (cxxnet key); Loss() stays unscaled").Min(0);
      return d;
    }();
    return d;
  }
};
struct LpLossParam {
  float grad_scale = 1.f;
  float p = 2.f;
  static const ParamDecl<LpLossParam>& Decl() {
    static const ParamDecl<LpLossParam> d = [] {
      ParamDecl<LpLossParam> d;
      d.Field(&LpLossParam::grad_scale, "grad_scale",
              "multiplies the gradient (cxxnet key); Loss() stays unscaled").Min(0);
      // Below 1 the gradient |d|^(p-1) is infinite at d = 0.
      d.Field(&LpLossParam::p, "p", "exponent: loss sum |x - y|^p").Min(1);
      return d;
    }();
    return d;
  }
};

/// Per-element losses as functors of (x, y) = (input, label). Functors are stateless, so lp's
/// exponent enters through power/abs expressions with a scalar instead.
struct L2Elem {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType y) { return (x - y) * (x - y); }
};
/// sign(d), 0 at 0: lp's gradient sign(d) |d|^(p-1) is then 0 at d = 0 even for p = 1.
struct SignOf {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType d) {
    return d > DType(0) ? DType(1) : (d < DType(0) ? DType(-1) : DType(0));
  }
};
/// Binary cross-entropy from the logit, stable for any x: max(x, 0) - x y + log(1 + exp(-|x|))
/// (= -y log s - (1 - y) log(1 - s) with s = sigmoid(x), without forming log(0)).
struct LogisticElem {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType y) {
    const DType ax = x < DType(0) ? -x : x;
    return (x > DType(0) ? x : DType(0)) - x * y + math::Log1p(math::Exp(-ax));  // log1p: e^-|x| past 1e-7
  }
};

enum class ElemLossKind { kL2, kLp, kLogistic };

template <ElemLossKind kind>
struct ElemLossTraits;
template <>
struct ElemLossTraits<ElemLossKind::kL2> {
  using Param = L2LossParam;
  static constexpr const char* kType = "l2_loss";
};
template <>
struct ElemLossTraits<ElemLossKind::kLp> {
  using Param = LpLossParam;
  static constexpr const char* kType = "lp_loss";
};
template <>
struct ElemLossTraits<ElemLossKind::kLogistic> {
  using Param = L2LossParam;
  static constexpr const char* kType = "multi_logistic";
};

template <ElemLossKind kind, typename xpu, typename DType>
class ElemLossLayer : public ParamLayer<typename ElemLossTraits<kind>::Param, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return ElemLossTraits<kind>::kType; }
  bool IsLoss() const override { return true; }
  double Loss() const override { return MeanOnHost(loss_.view()); }
  Tensor<xpu, 1, DType> PerSampleLoss() const override { return loss_.view(); }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    UMBRA_CHECK(in[0][0] > 0 && in[0].ProdShape(1, 4) > 0, this->Describe(), ": empty input ",
                in[0]);
    features_ = in[0].ProdShape(1, 4);
    return {in[0]};
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in,
               const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), o = out[0]->Mat();
    if constexpr (kind == ElemLossKind::kLogistic) o = F<op::sigmoid>(x);
    else Copy(o, x);
    if (ctx.label == nullptr) return;  // prediction: no loss
    const Tensor<xpu, 2, DType>& y = *ctx.label;
    UMBRA_CHECK(y.shape_ == x.shape_, this->Describe(), ": label ", y.shape_,
                " does not fit input ", in[0]->shape, " (want one label per feature: ", x.shape_,
                ")");
    label_ = y;  // kept for Backward (ctx.label need not outlive Forward)
    if constexpr (xpu::kDevCPU) {  // as softmax: a C++ caller's Trainer::Train has no Net::CheckLabels before it
      std::vector<float> row(size_t(x.size(1)));
      for (index_t i = 0; i < x.size(0); ++i) {
        for (index_t j = 0; j < x.size(1); ++j) row[size_t(j)] = float(label_.dptr_[i * label_.stride_ + j]);
        const std::string problem = LabelProblem(row.data(), x.size(1));
        UMBRA_CHECK(problem.empty(), this->Describe(), ": sample ", i, ": ", problem);
      }
    }
    loss_.Resize(Shape1(x.size(0)));
    if constexpr (kind == ElemLossKind::kL2) {
      loss_ = sumall_except_dim<0>(F<L2Elem>(x, y));
    } else if constexpr (kind == ElemLossKind::kLp) {
      const DType p = DType(this->p_.p);
      loss_ = sumall_except_dim<0>(F<op::power>(F<op::abs>(x - y), scalar(p)));
    } else {
      loss_ = sumall_except_dim<0>(F<LogisticElem>(x, y));
    }
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 2, DType> x = in[0]->Mat(), gx = in[0]->Mat(true), o = out[0]->Mat();
    UMBRA_CHECK(label_.shape_ == x.shape_, this->Describe(),
                ": Backward needs a Forward with labels first");
    const DType s = DType(this->p_.grad_scale / double(x.size(0)));
    const Tensor<xpu, 2, DType>& y = label_.view();
    if constexpr (kind == ElemLossKind::kL2) {
      gx = (x - y) * (DType(2) * s);
    } else if constexpr (kind == ElemLossKind::kLp) {
      const DType p = DType(this->p_.p), pm1 = DType(this->p_.p - 1);
      gx = F<SignOf>(x - y) * F<op::power>(F<op::abs>(x - y), scalar(pm1)) * (p * s);
    } else {
      gx = (o - y) * s;
    }
  }

  std::string LabelProblem(const float* y, index_t width) const override {
    std::ostringstream os;
    if (width != features_) {
      os << width << " labels, want one per feature: " << features_;
    } else {
      const float* bad = std::find_if(y, y + width, [](float v) { return !std::isfinite(v); });
      if (bad != y + width) os << "label " << bad - y << " is " << *bad;
      // A logistic's target is a probability: past [0, 1] its loss has no lower bound, and
      // training drove the logit toward infinity without a word.
      const float* off = kind == ElemLossKind::kLogistic && bad == y + width
                             ? std::find_if(y, y + width, [](float v) { return v < 0 || v > 1; })
                             : y + width;
      if (off != y + width) os << "label " << off - y << " is " << *off << ", outside [0, 1] (a target probability)";
    }
    return os.str();
  }

 private:
  index_t features_ = 0;  // K
  TensorContainer<xpu, 2, DType> label_;
  TensorContainer<xpu, 1, DType> loss_;
};

template <typename xpu, typename DType>
using L2LossLayer = ElemLossLayer<ElemLossKind::kL2, xpu, DType>;
template <typename xpu, typename DType>
using LpLossLayer = ElemLossLayer<ElemLossKind::kLp, xpu, DType>;
template <typename xpu, typename DType>
using MultiLogisticLayer = ElemLossLayer<ElemLossKind::kLogistic, xpu, DType>;

}  // namespace umbra::nn
