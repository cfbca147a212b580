// fullc: the fully-connected layer. out (N,1,1,nhidden) = in (N, C*H*W) W^T + b, W (nhidden, CHW).
// Backward: gW += gout^T in, gb += sum of gout rows, gin = gout W. Three GEMMs and one
// broadcast/reduction, all tensor expressions, so the same template runs on cpu and gpu.
#pragma once

#include "param_layer.h"

namespace umbra::nn {

struct FullcParam : InitParam {
  int nhidden = 0;
  bool no_bias = false;
  static const ParamDecl<FullcParam>& Decl() {
    static const ParamDecl<FullcParam> d = [] {
      ParamDecl<FullcParam> d;
      d.Field(&FullcParam::nhidden, "nhidden", "number of output units").Min(1).Required();
      d.Field(&FullcParam::no_bias, "no_bias", "1: no bias term");
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
    gwmat_.Resize(Shape2(nh, fan_in_), DType(0));
    InitWeight(this->p_, wmat_.view(), fan_in_, nh, rnd);
    if (!this->p_.no_bias) {
      bias_.Resize(Shape2(1, nh), DType(this->p_.init_bias));
      gbias_.Resize(Shape2(1, nh), DType(0));
    }
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), y = out[0]->Mat();
    y = dot(x, wmat_.view().T());
    if (!this->p_.no_bias) y += repmat(bias_.view()[0], y.size(0));
  }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), gy = out[0]->Mat(true);
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
  index_t fan_in_ = 0;
  TensorContainer<xpu, 2, DType> wmat_, gwmat_, bias_, gbias_;
};

}  // namespace umbra::nn
