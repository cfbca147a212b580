// softmax: the classification loss layer (cxxnet's `softmax`). in (N, C, H, W) is seen as logits
// (N, K = C*H*W); Forward writes the probabilities to out and the per-sample cross-entropy
// -log p[label] (from the logits where p underflows: SoftmaxNegLog) to a device buffer; Loss()
// is its mean over the batch (PyTorch's CrossEntropyLoss 'mean'). Backward writes
// grad_scale * (p - onehot(label)) / N into in's grad.
// Labels: ctx.label (N, 1), class indices. On the CPU an index outside [0, K) is an error naming
// the layer; on the GPU (no copy back) such a sample would add 0 to the loss and no one-hot to
// its gradient, so training checks the host's labels first (LabelProblem, Net::CheckLabels).
// Per-pixel softmax is not here (ext/softmax.h has the (N, C, L) form).
// On the GPU in float the probabilities come from cuDNN's softmax (cudnn/act_cudnn.h); key
// algo=expr keeps the expression kernel. The loss and the gradient are expressions either way.
#pragma once

#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include "cudnn/act_cudnn.h"
#include "loss_common.h"
#include "param_layer.h"

namespace umbra::nn {

struct SoftmaxParam {
  float grad_scale = 1.f;
  std::string algo = "auto";
  static const ParamDecl<SoftmaxParam>& Decl() {
    static const ParamDecl<SoftmaxParam> d = [] {
      ParamDecl<SoftmaxParam> d;
      d.Field(&SoftmaxParam::grad_scale, "grad_scale",
              "multiplies the gradient (cxxnet key); Loss() stays unscaled").Min(0);
      d.Field(&SoftmaxParam::algo, "algo", "GPU float: auto (cuDNN when built with it) or expr (expressions)")
          .OneOf({"auto", "expr"});
      return d;
    }();
    return d;
  }
};

/// The cross-entropy of one class: -log(p) where p > 1e-30, else `alt`, the same from the logits
/// (lse - x). p underflows to 0 at a logit gap of about 87 in float: a clamp of p made every
/// such loss 69.1, where PyTorch's cross-entropy reports the gap. -log(p) where it can, since
/// lse - x cancels digits where the loss is small. A NaN p stays NaN: a diverged net must show a
/// NaN loss.
struct SoftmaxNegLog {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType p, DType alt) {
    return p > DType(1e-30) || p != p ? -math::Log(p) : alt;
  }
};
/// v where h (the label's one-hot) is set, else 0: the other classes' terms may be +inf (a logit
/// of -inf, or one past a float below the row's largest: lse - x overflows), and 0 * inf is NaN.
struct SoftmaxAtLabel {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType h, DType v) { return h != DType(0) ? v : DType(0); }
};
/// x - log(max(p, 1e-30)): the row's log-sum-exp at every class whose p did not underflow (the
/// row's largest p, >= 1/K, never does), less at the others; so the row's maximum of it is the
/// log-sum-exp, with no second pass of exponentials.
struct SoftmaxLogSumExpTerm {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType p) {
    return x - math::Log(p > DType(1e-30) ? p : DType(1e-30));
  }
};

template <typename xpu, typename DType>
class SoftmaxLayer : public ParamLayer<SoftmaxParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "softmax"; }
  bool IsLoss() const override { return true; }
  double Loss() const override { return MeanOnHost(loss_.view()); }
  Tensor<xpu, 1, DType> PerSampleLoss() const override { return loss_.view(); }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    const Shape<4>& s = in[0];
    // One class gives p = 1 and a zero gradient for any input: surely a wiring mistake.
    UMBRA_CHECK(s[0] > 0 && s.ProdShape(1, 4) >= 2, this->Describe(),
                ": input ", s, " must hold N >= 1 rows of at least 2 class scores");
    classes_ = s.ProdShape(1, 4);
    if constexpr (kGpuFloat<xpu, DType>) {
      backend_.reset();
      if (this->p_.algo == "auto") backend_ = MakeCudnnSoftmax(s[0], s.ProdShape(1, 4));
    }
    return {s};
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in,
               const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), p = out[0]->Mat();
    if (backend_)
      backend_->Forward(reinterpret_cast<const float*>(x.dptr_), reinterpret_cast<float*>(p.dptr_));
    else
      Softmax(p, x);
    if (ctx.label == nullptr) return;  // prediction: no loss
    const Tensor<xpu, 2, DType>& lab = *ctx.label;
    const index_t n = x.size(0), k = x.size(1);
    UMBRA_CHECK(lab.size(0) == n && lab.size(1) == 1, this->Describe(), ": label ", lab.shape_,
                " does not fit input ", in[0]->shape, " (want (", n, ", 1) class indices)");
    label_.Resize(Shape1(n));
    label_ = reshape(lab, Shape1(n));
    if constexpr (xpu::kDevCPU) {
      for (index_t i = 0; i < n; ++i) {
        const DType d = label_.dptr_[i];
        const float v = float(d);
        std::string problem = LabelProblem(&v, 1);
        if (problem.empty() && DType(v) != d) {  // a double label float rounds (2.0000001)
          std::ostringstream os;
          os << std::setprecision(std::numeric_limits<DType>::max_digits10) << "label " << d
             << " is not a whole class index";
          problem = os.str();
        }
        UMBRA_CHECK(problem.empty(), this->Describe(), ": sample ", i, ": ", problem);
      }
    }
    loss_.Resize(Shape1(n));
    lse_.Resize(Shape1(n));
    lse_ = reduce_except_dim<red::maximum, 0>(F<SoftmaxLogSumExpTerm>(x, p));
    loss_ = sumall_except_dim<0>(F<SoftmaxAtLabel>(one_hot_encode(label_.view(), k),
                                                   F<SoftmaxNegLog>(p, broadcast<0>(lse_.view(), p.shape_) - x)));
  }
  // The gradient is p - onehot(label): the output only.
  bool BackwardReadsInput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 2, DType> gx = in[0]->Mat(true), p = out[0]->Mat();
    UMBRA_CHECK(label_.shape_[0] == p.size(0), this->Describe(),
                ": Backward needs a Forward with labels first");
    SoftmaxGrad(gx, p, label_.view());
    gx *= DType(this->p_.grad_scale / double(p.size(0)));
  }

  // A fractional class (a csv column of probabilities, a misread file) would otherwise be
  // truncated silently to the class below.
  std::string LabelProblem(const float* y, index_t width) const override {
    std::ostringstream os;
    // The fewest digits that read back as the label: 1.0000001 was printed as 1, "not whole".
    for (int d = 6; d < std::numeric_limits<float>::max_digits10; ++d) {
      std::ostringstream t;
      t << std::setprecision(d) << y[0];
      if (std::strtof(t.str().c_str(), nullptr) == y[0]) {
        os << std::setprecision(d);
        break;
      }
      os << std::setprecision(d + 1);
    }
    if (width != 1) os << width << " labels, want 1 class index";
    else if (!(y[0] >= 0.f && y[0] < float(classes_))) os << "label " << y[0] << " is outside [0, " << classes_ << ")";
    else if (y[0] != std::floor(y[0])) os << "label " << y[0] << " is not a whole class index";
    return os.str();
  }

 private:
  index_t classes_ = 0;  // K
  TensorContainer<xpu, 1, DType> label_, loss_, lse_;  // lse_: each row's log-sum-exp of the logits
  std::unique_ptr<SoftmaxBackend> backend_;  // gpu float with cuDNN; null: the expression kernel
};

}  // namespace umbra::nn
