// to_nhwc and to_nchw: (N, C, H, W) -> (N, H, W, C) and back, the conversions a channels-last
// net (NetSpec::channels_last) puts where the layout changes: before the first convolution,
// and before a layer that takes only (N, C, H, W) (flatten into fullc, concat, LRN, ...).
// Plain transposes in expressions; where the move is the identity in memory (H*W == 1 or C == 1,
// e.g. after global pooling) the output is the input's buffer (OutputsViewInput).
#pragma once

#include "param_layer.h"
#include "structure-inl.h"

namespace umbra::nn {

template <bool kToNhwc, typename xpu, typename DType>
class LayoutLayer : public ParamLayer<StructureParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return kToNhwc ? "to_nhwc" : "to_nchw"; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    const Shape<4>& s = in[0];
    UMBRA_CHECK(s.Size() > 0, this->Describe(), ": empty input ", s);
    // to_nhwc: (N, C, H, W) -> (N, H, W, C); to_nchw: (N, H, W, C) -> (N, C, H, W).
    const index_t c = kToNhwc ? s[1] : s[3];
    identity_ = c == 1 || s.Size() == s[0] * c;
    return {kToNhwc ? NhwcOf(s) : NchwOf(s)};
  }
  // In a channels-last net: to_nhwc takes (N, C, H, W) and to_nchw (N, H, W, C) nodes, and each
  // gives the other layout.
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override { return kToNhwc ? Layout::kNchw : Layout::kNhwc; }
  void SetChannelsLast() override {}
  bool FlipsLayout() const override { return true; }
  bool OutputsViewInput() const override { return identity_; }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Move(in[0]->data, out[0]->data, kToNhwc);
  }
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (prop_grad) Move(out[0]->grad, in[0]->grad, !kToNhwc);
  }

 private:
  // dst = src moved to the other layout (to_nhwc: src is (N, C, H, W)).
  void Move(const Tensor<xpu, 4, DType>& src, Tensor<xpu, 4, DType> dst, bool to_nhwc) const {
    if (identity_) {
      if (dst.dptr_ != src.dptr_) {
        Tensor<xpu, 1, DType> d(dst.dptr_, Shape1(dst.Size()), dst.stream_);
        d = F<umbra::op::identity>(Tensor<xpu, 1, DType>(src.dptr_, Shape1(src.Size()), src.stream_));
      }
      return;
    }
    const Shape<4>& s = src.shape_;
    if (to_nhwc) {  // (N, C, HW) -> (N, HW, C)
      Tensor<xpu, 3, DType> d = dst.View(Shape3(s[0], s[2] * s[3], s[1]));
      d = swapaxis<2, 1>(src.View(Shape3(s[0], s[1], s[2] * s[3])));
    } else {  // (N, HW, C) -> (N, C, HW)
      Tensor<xpu, 3, DType> d = dst.View(Shape3(s[0], s[3], s[1] * s[2]));
      d = swapaxis<2, 1>(src.View(Shape3(s[0], s[1] * s[2], s[3])));
    }
  }
  bool identity_ = false;
};

template <typename xpu, typename DType>
using ToNhwcLayer = LayoutLayer<true, xpu, DType>;
template <typename xpu, typename DType>
using ToNchwLayer = LayoutLayer<false, xpu, DType>;

}  // namespace umbra::nn

#define UMBRA_REGISTER_LAYOUT(xpu, DType)                                                       \
  UMBRA_REGISTER_LAYER(xpu, DType, "to_nhwc", umbra::nn::ToNhwcLayer, umbra::nn::StructureParam); \
  UMBRA_REGISTER_LAYER(xpu, DType, "to_nchw", umbra::nn::ToNchwLayer, umbra::nn::StructureParam)
