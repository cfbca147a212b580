// maxout (Goodfellow et al. 2013): the maximum over groups of num_maxout consecutive feature
// maps. in (N, C, H, W) -> out (N, C/k, H, W), out[n, g] = max_j in[n, g*k + j]; a vector node
// (N, 1, 1, len) groups its features: (N, 1, 1, len/k), as after fullc. Written as max pooling
// with a (k, 1) window over (N, C, H*W), so Backward is unpool: the gradient goes to the first
// input equal to its group's maximum (red::maximum's kFirstOnly, as max pooling; mshadow gave it
// to every tie). Not here: channel pooling across windows (chpool, lrn).
#pragma once

#include "param_layer.h"

namespace umbra::nn {

struct MaxoutParam {
  int num_maxout = 0;
  static const ParamDecl<MaxoutParam>& Decl() {
    static const ParamDecl<MaxoutParam> d = [] {
      ParamDecl<MaxoutParam> d;
      d.Field(&MaxoutParam::num_maxout, "num_maxout",
              "pieces per unit: consecutive channels (features of a vector) maxed together")
          .Min(1)
          .Required()
          .Alias("maxout_unit");  // cxxnet's name
      return d;
    }();
    return d;
  }
};

template <typename xpu, typename DType>
class MaxoutLayer : public ParamLayer<MaxoutParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "maxout"; }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    const Shape<4>& s = in[0];
    const index_t k = this->p_.num_maxout;
    const bool vec = s[1] == 1 && s[2] == 1;
    // (N, features, positions): channels of an image, or the features of a vector.
    in3_ = vec ? Shape3(s[0], s[3], 1) : Shape3(s[0], s[1], s[2] * s[3]);
    UMBRA_CHECK(in3_[1] > 0 && in3_[1] % k == 0, this->Describe(), ": input ", s, " has ",
                in3_[1], vec ? " features" : " channels", ", not a multiple of num_maxout = ", k);
    out3_ = Shape3(in3_[0], in3_[1] / k, in3_[2]);
    return {vec ? Shape4(s[0], 1, 1, s[3] / k) : Shape4(s[0], s[1] / k, s[2], s[3])};
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    const index_t k = this->p_.num_maxout;
    const Tensor<xpu, 3, DType> x = in[0]->data.view().View(in3_);
    Tensor<xpu, 3, DType> y = out[0]->data.view().View(out3_);
    // Window (k, 1) at stride (k, 1) over (features, positions): one group of k per output.
    y = pool<red::maximum>(x, Shape2(out3_[1], out3_[2]), k, 1, k, 1);
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    const index_t k = this->p_.num_maxout;
    Tensor<xpu, 3, DType> gx = in[0]->grad.view().View(in3_);
    gx = unpool<red::maximum>(in[0]->data.view().View(in3_), out[0]->data.view().View(out3_),
                              out[0]->grad.view().View(out3_), k, 1, k, 1);
  }

 private:
  Shape<3> in3_, out3_;
};

}  // namespace umbra::nn
