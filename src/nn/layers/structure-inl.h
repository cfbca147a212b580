// Layers that only move, copy or add data: flatten ((N,C,H,W) -> (N,1,1,C*H*W)), split (one input
// copied to every output), concat (cxxnet: inputs joined along the last dimension, for vectors
// (N,1,1,len)), ch_concat (along channels), eltwise_sum (residual nets) and bias (cxxnet: a
// learnable vector added to a vector node). split has NumOut() == -1: InferShape, which sees only
// inputs, returns ONE shape and the net gives it to every declared output. concat, ch_concat and
// eltwise_sum take any number >= 2 of inputs (NumIn() == -1).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "bf16_cast.h"
#include "umbra/tensor/bf16.h"
#include "param_layer.h"

namespace umbra::nn {

/// A bf16 node's values behind its float pointer.
inline uint16_t* Bf16Of(float* p) { return reinterpret_cast<uint16_t*>(p); }
template <typename xpu>
inline void* NodeStream(const Tensor<xpu, 4, float>& t) { return Stream<xpu>::GetStream(t.stream_); }

/// Layers without keys.
struct StructureParam {
  static const ParamDecl<StructureParam>& Decl() {
    static const ParamDecl<StructureParam> d;
    return d;
  }
};

template <typename xpu, typename DType>
class FlattenLayer : public ParamLayer<StructureParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "flatten"; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {Shape4(in[0][0], 1, 1, in[0].ProdShape(1, 4))};
  }
  // Both nodes seen as (N, C*H*W) matrices are the same shape: a plain copy, or nothing when
  // the net gave the output the input's buffer.
  bool OutputsViewInput() const override { return true; }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> y = out[0]->Mat();
    if (y.dptr_ != in[0]->data.dptr_) y = F<umbra::op::identity>(in[0]->Mat());
  }
  // Gradients only move or add: no value is read.
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 2, DType> gx = in[0]->Mat(true);
    gx = F<umbra::op::identity>(out[0]->Mat(true));
  }
};

template <typename xpu, typename DType>
class SplitLayer : public ParamLayer<StructureParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "split"; }
  // Per element: either layout (a channels-last net keeps its nodes so).
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override { return Layout::kEither; }
  void SetChannelsLast() override {}
  int NumOut() const override { return -1; }
  BF16Nodes TakesBF16(const std::vector<Shape<4>>&) const override {
    return kGpuFloat<xpu, DType> ? BF16Nodes::kEither : BF16Nodes::kNo;
  }
  void SetBF16() override { nodes16_ = true; }
  /// One shape, which the net gives to each of the outputs it declares.
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {in[0]};
  }
  // Outputs that the net gave the input's buffer (net.h) need no copy.
  bool OutputsViewInput() const override { return true; }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    UMBRA_CHECK(!out.empty(), this->Describe(), ": no outputs");
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {
        for (auto* o : out)
          CopyBF16(Bf16Of(o->data.dptr_), Bf16Of(in[0]->data.dptr_), o->shape.Size(), NodeStream(o->data));
        return;
      }
    }
    for (auto* o : out) {
      if (o->data.dptr_ == in[0]->data.dptr_) continue;
      Tensor<xpu, 4, DType> y = o->data.view();
      y = F<umbra::op::identity>(in[0]->data.view());
    }
  }
  // Every copy feeds part of the loss: the input gradient is the sum of the output gradients.
  // Gradients only move or add: no value is read, no output gradient written.
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  bool RewritesOutputGrad() const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {  // summed in fp32, rounded once
        std::vector<const uint16_t*> g;
        for (auto* o : out) g.push_back(Bf16Of(o->grad.dptr_));
        SumBF16(Bf16Of(in[0]->grad.dptr_), g.data(), g.size(), in[0]->shape.Size(), false, NodeStream(in[0]->grad));
        return;
      }
    }
    Tensor<xpu, 4, DType> gx = in[0]->grad.view();
    if (out.size() == 2) {
      // One pass for the usual two outputs (a ResNet block's fan-out), the same sum: a copy and
      // then an add moved five tensors' bytes for three (ResNet-50's 16 splits, 3.6 ms of its
      // backward on the H200, at about copy speed: the cost was the extra bytes).
      gx = out[0]->grad.view() + out[1]->grad.view();
      return;
    }
    gx = F<umbra::op::identity>(out[0]->grad.view());
    for (size_t j = 1; j < out.size(); ++j) gx += out[j]->grad.view();
  }

 private:
  bool nodes16_ = false;  // bf16 nodes (NetSpec::bf16_nodes)
};

/// Checks a multi-input layer got >= 2 inputs whose shapes equal in[0]'s except in dimension
/// `free_dim` (-1: all equal).
template <typename L>
inline void CheckInputShapes(const L& layer, const std::vector<Shape<4>>& in, int free_dim) {
  UMBRA_CHECK(in.size() >= 2, layer.Describe(), ": needs at least 2 inputs, got ", in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    UMBRA_CHECK(in[i].Size() > 0, layer.Describe(), ": empty input ", i, " ", in[i]);
    for (int d = 0; d < 4; ++d)
      UMBRA_CHECK(d == free_dim || in[i][d] == in[0][d], layer.Describe(), ": input ", i, " has shape ",
                  in[i], " but input 0 has ", in[0],
                  free_dim < 0 ? std::string(" (all must agree)")
                               : " (they must agree except in dimension " + std::to_string(free_dim) + ")");
  }
}

/// concat (dim 3, cxxnet's) and ch_concat (dim 1): inputs in order along dimension dim. Values
/// only move, so both take bf16 nodes on the GPU (moved as 2-byte Bf16 elements), and ch_concat
/// takes channels-last nodes (joined along their dimension 3): an Inception module's branches
/// stay channels-last and bf16 instead of being converted around each join.
template <typename xpu, typename DType, int dim>
class ConcatLayer : public ParamLayer<StructureParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return dim == 3 ? "concat" : "ch_concat"; }
  int NumIn() const override { return -1; }
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override {
    return dim == 1 ? Layout::kEither : Layout::kNchw;
  }
  void SetChannelsLast() override {
    UMBRA_CHECK(dim == 1, this->Describe(), " cannot take channels-last (N, H, W, C) nodes");
    nhwc_ = true;
  }
  BF16Nodes TakesBF16(const std::vector<Shape<4>>&) const override {
    return kGpuFloat<xpu, DType> ? BF16Nodes::kEither : BF16Nodes::kNo;
  }
  void SetBF16() override { nodes16_ = true; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    const int axis = nhwc_ ? 3 : dim;
    CheckInputShapes(*this, in, axis);
    Shape<4> s = in[0];
    for (size_t i = 1; i < in.size(); ++i) s[axis] += in[i][axis];
    return {s};
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Move(in, out, false);
  }
  // Gradients only move or add: no value is read.
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (prop_grad) Move(in, out, true);
  }

 private:
  // Forward: each input into its part of the output; backward: each input's gradient is its
  // part of the output's (written). In DType, or as Bf16 elements for bf16 nodes.
  void Move(const NodeList& in, const NodeList& out, bool backward) const {
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) return Move<Bf16>(in, out, backward);
    }
    Move<DType>(in, out, backward);
  }
  template <typename T>
  void Move(const NodeList& in, const NodeList& out, bool backward) const {
    if constexpr (dim == 1) {
      if (nhwc_) return Move<T, 3>(in, out, backward);
    }
    Move<T, dim>(in, out, backward);
  }
  template <typename T, int axis>
  void Move(const NodeList& in, const NodeList& out, bool backward) const {
    const Tensor<xpu, 4, T> y = ViewAs<T>(backward ? out[0]->grad : out[0]->data);
    index_t off = 0;
    for (auto* n : in) {
      const index_t len = n->shape[axis];
      Tensor<xpu, 4, T> x = ViewAs<T>(backward ? n->grad : n->data);
      if (backward)
        x = slice<axis>(y, off, off + len);
      else
        slice<axis>(y, off, off + len) = x;
      off += len;
    }
  }

  bool nhwc_ = false;     // ch_concat on channels-last nodes: joined along dimension 3
  bool nodes16_ = false;  // bf16 nodes (GPU float): moved as Bf16 elements
};
template <typename xpu, typename DType>
using ConcatWidthLayer = ConcatLayer<xpu, DType, 3>;
template <typename xpu, typename DType>
using ChConcatLayer = ConcatLayer<xpu, DType, 1>;

template <typename xpu, typename DType>
class EltwiseSumLayer : public ParamLayer<StructureParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "eltwise_sum"; }
  // Per element: either layout (a channels-last net keeps its nodes so).
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override { return Layout::kEither; }
  void SetChannelsLast() override {}
  int NumIn() const override { return -1; }
  BF16Nodes TakesBF16(const std::vector<Shape<4>>&) const override {
    return kGpuFloat<xpu, DType> ? BF16Nodes::kEither : BF16Nodes::kNo;
  }
  void SetBF16() override { nodes16_ = true; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    CheckInputShapes(*this, in, -1);
    return {in[0]};
  }
  // A relu after it (Layer::FuseRelu) runs in the summing pass: y = max(0, a + b) is one pass
  // where a sum and a relu are three.
  bool FuseRelu() override {
    relu_ = true;
    return true;
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {  // summed in fp32, relu'd, rounded once
        std::vector<const uint16_t*> x;
        for (auto* i : in) x.push_back(Bf16Of(i->data.dptr_));
        SumBF16(Bf16Of(out[0]->data.dptr_), x.data(), x.size(), out[0]->shape.Size(), relu_, NodeStream(out[0]->data));
        return;
      }
    }
    Tensor<xpu, 4, DType> y = out[0]->data.view();
    auto x = [&](size_t i) { return in[i]->data.view(); };
    const size_t n = in.size();  // at least 2 (InferShape)
    if (n == 2) {
      Put(y, x(0) + x(1));
      return;
    }
    y = x(0) + x(1);
    for (size_t i = 2; i + 1 < n; ++i) y += x(i);
    Put(y, y + x(n - 1));
  }
  // Gradients only move or add: no value is read, but for a fused relu's mask (the output).
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return relu_; }
  bool RewritesOutputGrad() const override { return relu_; }  // the mask, where inputs share it
  // Every input's gradient is the output's (masked for a fused relu): the net may give them the
  // output's buffer, as PyTorch's add hands its gradient on without a copy.
  bool InputGradIsOutputGrad(int) const override { return true; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    // Where an input shares the output's gradient buffer, a fused relu masks that buffer in
    // place first; otherwise into input 0's, which the other inputs copy.
    const void* gy_ptr = out[0]->grad.dptr_;
    bool shared = false;
    for (auto* i : in) shared = shared || i->grad.dptr_ == gy_ptr;
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {
        const size_t n = out[0]->shape.Size();
        void* s = NodeStream(out[0]->grad);
        uint16_t* gy = Bf16Of(out[0]->grad.dptr_);
        const uint16_t* from = gy;
        if (relu_ && shared) {
          ReluMaskBF16(gy, Bf16Of(out[0]->data.dptr_), n, s);
        } else if (relu_) {
          uint16_t* g0 = Bf16Of(in[0]->grad.dptr_);
          CopyBF16(g0, gy, n, s);
          ReluMaskBF16(g0, Bf16Of(out[0]->data.dptr_), n, s);
          from = g0;
        }
        for (auto* i : in)
          if (Bf16Of(i->grad.dptr_) != from) CopyBF16(Bf16Of(i->grad.dptr_), from, n, s);
        return;
      }
    }
    Tensor<xpu, 4, DType> gy = out[0]->grad.view();
    Tensor<xpu, 4, DType> from = gy;
    if (relu_ && shared) {
      gy = gy * F<umbra::op::relu_grad>(out[0]->data.view());
    } else if (relu_) {
      from = in[0]->grad.view();
      from = gy * F<umbra::op::relu_grad>(out[0]->data.view());
    }
    for (auto* i : in) {
      Tensor<xpu, 4, DType> gx = i->grad.view();
      if (gx.dptr_ != from.dptr_) gx = F<umbra::op::identity>(from);
    }
  }

 private:
  template <typename E>
  void Put(Tensor<xpu, 4, DType>& y, const E& e) const {
    if (relu_)
      y = F<umbra::op::relu>(e);
    else
      y = e;
  }
  bool relu_ = false;  // a relu fused in (FuseRelu)
  bool nodes16_ = false;  // bf16 nodes (NetSpec::bf16_nodes)
};

struct BiasParam {
  float init_bias = 0.f;
  static const ParamDecl<BiasParam>& Decl() {
    static const ParamDecl<BiasParam> d = [] {
      ParamDecl<BiasParam> d;
      d.Field(&BiasParam::init_bias, "init_bias", "initial value of the bias");
      return d;
    }();
    return d;
  }
};

/// y (N,1,1,len) = x + b, b (1, len); backward does not read x, so it runs in place.
template <typename xpu, typename DType>
class BiasLayer : public ParamLayer<BiasParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "bias"; }
  bool AllowInplace() const override { return true; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    const Shape<4>& s = in[0];
    UMBRA_CHECK(s[1] == 1 && s[2] == 1 && s.Size() > 0, this->Describe(),
                ": input must be a vector (N,1,1,len), got ", s);
    len_ = s[3];
    return {s};
  }
  void InitWeights(Random<xpu, DType>&) override {
    bias_.Resize(Shape2(1, len_), DType(this->p_.init_bias));
    this->ResizeGrad(gbias_, Shape2(1, len_));
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> y = out[0]->Mat();
    y = in[0]->Mat() + repmat(bias_.view()[0], y.size(0));
  }
  // Gradients only move or add: no value is read.
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> gy = out[0]->Mat(true);
    Tensor<xpu, 1, DType> gb = gbias_.view()[0];
    gb += sum_rows(gy);
    if (!prop_grad) return;
    Tensor<xpu, 2, DType> gx = in[0]->Mat(true);
    if (gx.dptr_ != gy.dptr_) gx = F<umbra::op::identity>(gy);
  }
  void VisitWeights(const WeightVisitor<xpu, DType>& v) override {
    v("bias", bias_.view(), gbias_.view());
  }

 private:
  index_t len_ = 0;
  TensorContainer<xpu, 2, DType> bias_, gbias_;
};

}  // namespace umbra::nn

#define UMBRA_REGISTER_STRUCTURE(xpu, DType)                                                        \
  UMBRA_REGISTER_LAYER(xpu, DType, "flatten", umbra::nn::FlattenLayer, umbra::nn::StructureParam);   \
  UMBRA_REGISTER_LAYER(xpu, DType, "split", umbra::nn::SplitLayer, umbra::nn::StructureParam);       \
  UMBRA_REGISTER_LAYER(xpu, DType, "concat", umbra::nn::ConcatWidthLayer, umbra::nn::StructureParam); \
  UMBRA_REGISTER_LAYER(xpu, DType, "ch_concat", umbra::nn::ChConcatLayer, umbra::nn::StructureParam); \
  UMBRA_REGISTER_LAYER(xpu, DType, "eltwise_sum", umbra::nn::EltwiseSumLayer,                       \
                       umbra::nn::StructureParam);                                                  \
  UMBRA_REGISTER_LAYER(xpu, DType, "bias", umbra::nn::BiasLayer, umbra::nn::BiasParam)
