// dropout (Srivastava et al. 2014), inverted as in cxxnet: in training y = x * m with
// m = 1 / (1 - p) kept with probability 1 - p and 0 otherwise (drawn from ctx.rnd), so the
// expectation of y is x and test time is the identity. The mask is kept for backward, which
// reads nothing else: the layer runs in place.
#pragma once

#include <algorithm>

#include "param_layer.h"

namespace umbra::nn {

// cxxnet's default threshold is 0: a dropout layer without one drops nothing (said in a note).
struct DropoutParam {
  float threshold = 0.f;
  static const ParamDecl<DropoutParam>& Decl() {
    static const ParamDecl<DropoutParam> d = [] {
      ParamDecl<DropoutParam> d;
      d.Field(&DropoutParam::threshold, "threshold", "probability of dropping a unit (cxxnet's default)")
          .RangeOpenAbove(0, 1);
      return d;
    }();
    return d;
  }
};

template <typename xpu, typename DType>
class DropoutLayer : public ParamLayer<DropoutParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "dropout"; }
  bool AllowInplace() const override { return true; }
  std::string Note() const override {
    if (std::ranges::find(this->given_, "threshold") != this->given_.end()) return {};
    return "no threshold is given, so it drops nothing (cxxnet's default threshold = 0; 0.5 drops half)";
  }
  // Per element: either layout (a channels-last net keeps its nodes so).
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override { return Layout::kEither; }
  void SetChannelsLast() override {}

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {in[0]};
  }
  void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in, const NodeList& out) override {
    const Tensor<xpu, 4, DType>& x = in[0]->data.view();
    Tensor<xpu, 4, DType> y = out[0]->data.view();
    masked_ = ctx.is_train && this->p_.threshold > 0;
    if (masked_) {
      UMBRA_CHECK(ctx.rnd != nullptr, this->Describe(), ": training needs a random generator");
      const DType p = DType(this->p_.threshold);
      mask_.Resize(x.shape_);
      ctx.rnd->SampleUniform(&mask_, DType(0), DType(1));
      // u in [0, 1) exceeds p with probability 1 - p.
      mask_ = F<umbra::op::threshold>(mask_.view(), p) * (DType(1) / (DType(1) - p));
      y = x * mask_.view();
    } else if (y.dptr_ != x.dptr_) {
      y = F<umbra::op::identity>(x);
    }
  }
  // The mask is the layer's own: no value is read.
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 4, DType> gx = in[0]->grad.view();
    const Tensor<xpu, 4, DType>& gy = out[0]->grad.view();
    if (masked_) gx = gy * mask_.view();
    else if (gx.dptr_ != gy.dptr_) gx = F<umbra::op::identity>(gy);
  }

 private:
  bool masked_ = false;  // the last forward applied mask_
  TensorContainer<xpu, 4, DType> mask_;
};

}  // namespace umbra::nn
