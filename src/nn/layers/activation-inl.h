// Elementwise activations: one template over a forward functor and a gradient functor that reads
// the forward OUTPUT, so every activation runs in place (out == in): backward needs only out's
// data and grad. Registered as relu, sigmoid, tanh, softplus, xelu (cxxnet: y = x > 0 ? x : x / b),
// leaky_relu and elu. Each functor is binary, Map(value, parameter), with the layer's runtime
// parameter (b, slope, alpha; unused otherwise) as the scalar operand of F<op>(x, scalar).
// Learnable or random slopes (prelu, rrelu) are in prelu-inl.h.
// On the GPU in float, relu, sigmoid and tanh use cuDNN (cudnn/act_cudnn.h); their key
// algo=expr keeps the expressions. Every activation takes bf16 nodes on the GPU; its gradient
// then comes from the rounded output, as cuDNN's does (elu's y + alpha loses digits where
// y nears -alpha: exactly 0 below x of about -6 at alpha 1, where the fp32 path still has a
// gradient of 2e-3 or less; in fp32 it is 2.6% off at x = -15 and 0 below about -17, an
// absolute error under 1e-7, where PyTorch's, from the input, keeps the digits).
#pragma once

#include <memory>
#include <string>
#include <type_traits>

#include "cudnn/act_cudnn.h"
#include "param_layer.h"
#include "umbra/tensor/bf16.h"

namespace umbra::nn {

/// relu, sigmoid, tanh: which GPU path.
using CudnnActParam = CudnnAlgoParam;
/// Activations without keys.
struct NoActParam {
  static const ParamDecl<NoActParam>& Decl() {
    static const ParamDecl<NoActParam> d;
    return d;
  }
};
/// xelu's divisor of negative inputs (cxxnet key b).
struct XeluParam {
  float b = 5.f;
  static const ParamDecl<XeluParam>& Decl() {
    static const ParamDecl<XeluParam> d = [] {
      ParamDecl<XeluParam> d;
      d.Field(&XeluParam::b, "b", "negative inputs are divided by b (> 0)");
      return d;
    }();
    return d;
  }
};
struct LeakyReluParam {
  float slope = 0.01f;
  static const ParamDecl<LeakyReluParam>& Decl() {
    static const ParamDecl<LeakyReluParam> d = [] {
      ParamDecl<LeakyReluParam> d;
      d.Field(&LeakyReluParam::slope, "slope", "slope of negative inputs").Min(0);
      return d;
    }();
    return d;
  }
};
struct EluParam {
  float alpha = 1.f;
  static const ParamDecl<EluParam>& Decl() {
    static const ParamDecl<EluParam> d = [] {
      ParamDecl<EluParam> d;
      d.Field(&EluParam::alpha, "alpha", "y = alpha (exp(x) - 1) for x <= 0").Min(0);
      return d;
    }();
    return d;
  }
};

namespace act {
// Each activation: its name, parameter struct, its cuDNN kind where cuDNN has one that computes
// the same gradient from the output (kCudnn), the scalar fed to the functors, forward functor
// Map(x, p) and gradient functor Map(y, p) with y the forward output. Gradients from y need the
// sign of y to equal the sign of x, hence the parameter ranges (b > 0, slope >= 0, alpha >= 0).
struct Relu {
  static constexpr const char* kName = "relu";
  using Param = CudnnActParam;
  static constexpr CudnnActKind kCudnn = CudnnActKind::kRelu;
  static float Scalar(const Param&) { return 0.f; }
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType) { return x <= DType(0) ? DType(0) : x; }  // as op::relu
  };
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType) { return y > DType(0) ? DType(1) : DType(0); }
  };
};
struct Sigmoid {
  static constexpr const char* kName = "sigmoid";
  using Param = CudnnActParam;
  static constexpr CudnnActKind kCudnn = CudnnActKind::kSigmoid;
  static float Scalar(const Param&) { return 0.f; }
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType) { return DType(1) / (DType(1) + math::Exp(-x)); }
  };
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType) { return y * (DType(1) - y); }
  };
};
struct Tanh {
  static constexpr const char* kName = "tanh";
  using Param = CudnnActParam;
  static constexpr CudnnActKind kCudnn = CudnnActKind::kTanh;
  static float Scalar(const Param&) { return 0.f; }
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType) { return math::Tanh(x); }
  };
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType) { return DType(1) - y * y; }
  };
};
struct Softplus {
  static constexpr const char* kName = "softplus";
  using Param = NoActParam;
  static float Scalar(const Param&) { return 0.f; }
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|, and log1p keeps the
  // digits of e^x where log(1 + e^x) would round 1 + e^x to 1 (x below about -17 in float).
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType) {
      const DType ax = x < DType(0) ? -x : x;
      return (x > DType(0) ? x : DType(0)) + math::Log1p(math::Exp(-ax));
    }
  };
  // sigmoid(x) = 1 - 1 / (1 + e^x) = 1 - exp(-y) = -expm1(-y): expm1 keeps the relative
  // precision of a small y (x very negative), which 1 - exp(-y) cancels away.
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType) { return -math::Expm1(-y); }
  };
};
struct Xelu {
  static constexpr const char* kName = "xelu";
  using Param = XeluParam;
  static float Scalar(const Param& p) { return p.b; }
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType b) { return x > DType(0) ? x : x / b; }
  };
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType b) { return y > DType(0) ? DType(1) : DType(1) / b; }
  };
};
struct LeakyRelu {
  static constexpr const char* kName = "leaky_relu";
  using Param = LeakyReluParam;
  static float Scalar(const Param& p) { return p.slope; }
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType s) { return x > DType(0) ? x : x * s; }
  };
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType s) { return y > DType(0) ? DType(1) : s; }
  };
};
struct Elu {
  static constexpr const char* kName = "elu";
  using Param = EluParam;
  static float Scalar(const Param& p) { return p.alpha; }
  struct Fwd {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType x, DType a) {
      return x > DType(0) ? x : a * math::Expm1(x);  // exp(x) - 1 cancels near 0
    }
  };
  // For x <= 0: dy/dx = a e^x = y + a.
  struct Grad {
    template <typename DType>
    UMBRA_XINLINE static DType Map(DType y, DType a) { return y > DType(0) ? DType(1) : y + a; }
  };
};
}  // namespace act

/// Activations with a cuDNN kind (and so an algo key).
template <typename Act>
concept CudnnActivation = requires { Act::kCudnn; };

template <typename xpu, typename DType, typename Act>
class ActivationLayer : public ParamLayer<typename Act::Param, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return Act::kName; }
  bool AllowInplace() const override { return true; }
  // Per element: either layout (a channels-last net keeps its nodes so).
  Layout ChannelsLast(const std::vector<Shape<4>>&) const override { return Layout::kEither; }
  void SetChannelsLast() override {}
  // bf16 nodes on the GPU (NetSpec::bf16_nodes), kept when the input is bf16 already: cuDNN
  // applies relu, sigmoid and tanh to them where it takes bf16 (cudnn/bf16_probe.h); the
  // expressions otherwise, over the widened values, rounded once as stored.
  BF16Nodes TakesBF16(const std::vector<Shape<4>>& in) const override {
    return OneInputBF16(kGpuFloat<xpu, DType>, in);
  }
  void SetBF16() override { nodes16_ = true; }

  std::string Implementation() const override { return backend_ ? "cuDNN" : "expressions"; }
  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    if constexpr (std::is_same_v<Act, act::Xelu>)
      UMBRA_CHECK(this->p_.b > 0, this->Describe(), ": key 'b' must be > 0, got ", this->p_.b);
    UMBRA_CHECK(in[0].Size() > 0, this->Describe(), ": empty input ", in[0]);
    if constexpr (kCanCudnn) {
      backend_.reset();
      if (this->p_.algo == "auto") backend_ = MakeCudnnAct(Act::kCudnn, in[0].Size(), nodes16_);
    }
    return {in[0]};
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 4, DType> y = out[0]->data.view();
    if (backend_) {
      backend_->Forward(reinterpret_cast<const float*>(in[0]->data.dptr_), reinterpret_cast<float*>(y.dptr_));
      return;
    }
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {
        Tensor<xpu, 4, Bf16> y16 = ViewAs<Bf16>(y);
        y16 = tcast<Bf16>(F<typename Act::Fwd>(Widened(in[0]->data.view()), Scalar()));
        return;
      }
    }
    y = F<typename Act::Fwd>(in[0]->data.view(), Scalar());
  }
  // Reads only out's data and grad, so it is correct when out == in.
  // The gradient functors read the output only (see above).
  bool BackwardReadsInput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 4, DType> gx = in[0]->grad.view();
    if (backend_) {
      backend_->Backward(reinterpret_cast<const float*>(out[0]->data.dptr_),
                         reinterpret_cast<const float*>(out[0]->grad.dptr_), reinterpret_cast<float*>(gx.dptr_));
      return;
    }
    if constexpr (kGpuFloat<xpu, DType>) {
      if (nodes16_) {
        Tensor<xpu, 4, Bf16> gx16 = ViewAs<Bf16>(gx);
        gx16 = tcast<Bf16>(Widened(out[0]->grad.view()) *
                           F<typename Act::Grad>(Widened(out[0]->data.view()), Scalar()));
        return;
      }
    }
    gx = out[0]->grad.view() * F<typename Act::Grad>(out[0]->data.view(), Scalar());
  }

 private:
  DType Scalar() const { return DType(Act::Scalar(this->p_)); }
  static constexpr bool kCanCudnn = kGpuFloat<xpu, DType> && CudnnActivation<Act>;
  std::unique_ptr<ActBackend> backend_;  // gpu float with cuDNN; null: the expressions
  bool nodes16_ = false;                  // bf16 nodes (GPU float)
};

template <typename xpu, typename DType>
using ReluLayer = ActivationLayer<xpu, DType, act::Relu>;
template <typename xpu, typename DType>
using SigmoidLayer = ActivationLayer<xpu, DType, act::Sigmoid>;
template <typename xpu, typename DType>
using TanhLayer = ActivationLayer<xpu, DType, act::Tanh>;
template <typename xpu, typename DType>
using SoftplusLayer = ActivationLayer<xpu, DType, act::Softplus>;
template <typename xpu, typename DType>
using XeluLayer = ActivationLayer<xpu, DType, act::Xelu>;
template <typename xpu, typename DType>
using LeakyReluLayer = ActivationLayer<xpu, DType, act::LeakyRelu>;
template <typename xpu, typename DType>
using EluLayer = ActivationLayer<xpu, DType, act::Elu>;

}  // namespace umbra::nn

// Registers every activation for one (xpu, DType); used by activation.cc and activation.cu.
#define UMBRA_REGISTER_ACTIVATIONS(xpu, DType)                                               \
  UMBRA_REGISTER_LAYER(xpu, DType, "relu", umbra::nn::ReluLayer, umbra::nn::CudnnActParam);    \
  UMBRA_REGISTER_LAYER(xpu, DType, "sigmoid", umbra::nn::SigmoidLayer, umbra::nn::CudnnActParam); \
  UMBRA_REGISTER_LAYER(xpu, DType, "tanh", umbra::nn::TanhLayer, umbra::nn::CudnnActParam);    \
  UMBRA_REGISTER_LAYER(xpu, DType, "softplus", umbra::nn::SoftplusLayer, umbra::nn::NoActParam); \
  UMBRA_REGISTER_LAYER(xpu, DType, "xelu", umbra::nn::XeluLayer, umbra::nn::XeluParam);        \
  UMBRA_REGISTER_LAYER(xpu, DType, "leaky_relu", umbra::nn::LeakyReluLayer,                   \
                       umbra::nn::LeakyReluParam);                                           \
  UMBRA_REGISTER_LAYER(xpu, DType, "elu", umbra::nn::EluLayer, umbra::nn::EluParam)
