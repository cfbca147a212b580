// to_bf16 and to_fp32: the conversions a net with bfloat16 activations (NetSpec::bf16_nodes)
// puts where a float layer meets bf16 ones: after the input, before a loss or a fullc, around
// a layer that takes float only. Forward converts the value, backward the gradient the other
// way (bf16 nodes hold shape.Size() bf16 values behind the node's float pointer). GPU float
// only: no CPU layer takes bf16 nodes. Kernels: src/nn/bf16_cast.cu.
#pragma once

#include <cstdint>
#include <type_traits>

#include "bf16_cast.h"
#include "param_layer.h"
#include "structure-inl.h"

namespace umbra::nn {

template <bool kToBF16, typename xpu, typename DType>
class BF16ConvertLayer : public ParamLayer<StructureParam, xpu, DType> {
  static_assert(kGpuFloat<xpu, DType>, "bf16 nodes are GPU float only");

 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return kToBF16 ? "to_bf16" : "to_fp32"; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    return {in[0]};
  }
  void SetBF16() override {}
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Cast(in[0]->data, out[0]->data, kToBF16);
  }
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (prop_grad) Cast(out[0]->grad, in[0]->grad, !kToBF16);
  }

 private:
  static void Cast(const Tensor<xpu, 4, DType>& src, const Tensor<xpu, 4, DType>& dst, bool to_bf16) {
    void* s = Stream<xpu>::GetStream(dst.stream_);
    if (to_bf16)
      CastToBF16(src.dptr_, reinterpret_cast<uint16_t*>(dst.dptr_), src.shape_.Size(), s);
    else
      CastFromBF16(reinterpret_cast<const uint16_t*>(src.dptr_), dst.dptr_, src.shape_.Size(), s);
  }
};

template <typename xpu, typename DType>
using ToBF16Layer = BF16ConvertLayer<true, xpu, DType>;
template <typename xpu, typename DType>
using ToFp32Layer = BF16ConvertLayer<false, xpu, DType>;

}  // namespace umbra::nn
