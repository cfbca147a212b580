// ParamLayer: the base most layers derive from. It owns the layer's parameter struct P (declared
// once with ParamDecl), implements SetParam through that declaration, remembers which keys were
// given (for required keys), and offers the shared weight-initialisation keys (InitParam).
#pragma once

#include <algorithm>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "umbra/nn/layer.h"
#include "umbra/nn/param.h"
#include "umbra/tensor/bf16.h"

namespace umbra::nn {

/// The instances with GPU-only paths: float on the GPU, where the cuDNN backends, the bf16
/// option (dtype=bf16) and bf16 nodes (NetSpec::bf16_nodes, kernels in bf16_cast.h) exist.
template <typename xpu, typename DType>
inline constexpr bool kGpuFloat = !std::is_same_v<xpu, cpu> && std::is_same_v<DType, float>;

/// A node's buffer read as elements of type T in the node's shape: bf16 nodes
/// (NetSpec::bf16_nodes) keep Bf16 values in the first half of a float node's bytes.
template <typename T, typename xpu, int dim, typename DType>
Tensor<xpu, dim, T> ViewAs(const Tensor<xpu, dim, DType>& t) {
  return Tensor<xpu, dim, T>(reinterpret_cast<T*>(t.dptr_), t.shape_, t.stream_);
}
/// TakesBF16 of a layer of one input that computes in float on bf16 nodes (widened as read,
/// rounded once as stored): either kind where `can` (its GPU paths), for a non-empty input.
inline BF16Nodes OneInputBF16(bool can, const std::vector<Shape<4>>& in) {
  return can && in.size() == 1 && in[0].Size() > 0 ? BF16Nodes::kEither : BF16Nodes::kNo;
}
/// A bf16 node's values widened to float, as an expression: what a float path's expressions
/// read where the node is bf16 (their results are rounded once, as stored).
template <typename xpu, int dim, typename DType>
auto Widened(const Tensor<xpu, dim, DType>& t) {
  return tcast<float>(ViewAs<Bf16>(t));
}

/// Adds init, init_sigma, init_uniform, init_bias to a parameter struct deriving from InitParam.
template <typename P>
ParamDecl<P>& DeclareInit(ParamDecl<P>& d) {
  return d
      .template Field<std::string>(&P::init, "init",
                                   "weight initialisation (xavier: Glorot's U(+-sqrt(6/(in+out))), kaiming: "
                                   "He's N(0, sqrt(2/fan_in)); as random_type, cxxnet's: U(+-sqrt(3/(in+out))), "
                                   "N(0, sqrt(2/outputs)))")
      .OneOf({"gaussian", "uniform", "xavier", "kaiming"})
      .template Field<float>(&P::init_sigma, "init_sigma",
                             "standard deviation of gaussian init (and init = uniform's half-width without "
                             "init_uniform)")
      .Min(0)
      .template Field<float>(&P::init_uniform, "init_uniform",
                             "half-width of uniform init (cxxnet key), read by init = uniform and random_type = "
                             "uniform or xavier; <= 0: init = uniform uses init_sigma, random_type its "
                             "sqrt(3/(in+out))")
      .template Field<float>(&P::init_bias, "init_bias", "initial value of biases");
}

/// The parameters of a layer whose only key picks its GPU path (relu, sigmoid, tanh, global
/// pooling): auto takes cuDNN where umbra is built with it, expr umbra's own expressions.
struct CudnnAlgoParam {
  std::string algo = "auto";
  static const ParamDecl<CudnnAlgoParam>& Decl() {
    static const ParamDecl<CudnnAlgoParam> d = [] {
      ParamDecl<CudnnAlgoParam> d;
      d.Field(&CudnnAlgoParam::algo, "algo", "GPU float: auto (cuDNN when built with it) or expr (umbra's expressions)")
          .OneOf({"auto", "expr"});
      return d;
    }();
    return d;
  }
};

template <typename P, typename xpu, typename DType>
class ParamLayer : public Layer<xpu, DType> {
 public:
  bool SetParam(const std::string& key, const std::string& value) override {
    // cxxnet's name for the init rule, which also picks cxxnet's formulas (InitWeight).
    const std::string k = key == "random_type" ? "init" : key;
    try {
      if (!P::Decl().Set(p_, k, value)) return false;
    } catch (const Error& e) {
      std::string m = e.message();
      // Named as written: "bad value 'bogus' for key 'init'" answered random_type = bogus.
      if (k != key)
        if (const size_t at = m.find("key '" + k + "'"); at != std::string::npos) m.replace(at + 5, k.size(), key);
      UMBRA_THROW(this->Describe(), ": ", m);
    }
    if constexpr (std::is_base_of_v<InitParam, P>) {
      if (k == "init") p_.cxxnet_rule = key == "random_type";
    }
    given_.push_back(k);
    return true;
  }
  std::vector<std::string> KeyNames() const override {
    std::vector<std::string> keys;
    for (const auto& e : P::Decl().entries()) keys.push_back(e.name);
    return keys;
  }
  std::string KeyWithoutEffect(const std::string& key) const override {
    if constexpr (std::is_base_of_v<InitParam, P>) {  // which keys InitWeight reads for p_.init
      const std::string rule = (p_.cxxnet_rule ? "random_type = " : "init = ") + p_.init;
      const bool uniform = p_.init == "uniform" || (p_.cxxnet_rule && p_.init == "xavier");
      if (key == "init_sigma" && p_.init != "gaussian" && !(uniform && !p_.cxxnet_rule && p_.init_uniform <= 0))
        return rule + " does not read init_sigma (gaussian does, and init = uniform without init_uniform)";
      if (key == "init_uniform" && !uniform)
        return rule + " does not read init_uniform (uniform does, and random_type = xavier)";
    }
    if constexpr (requires(const P& q) { q.no_bias; }) {
      if (key == "init_bias" && p_.no_bias) return "with no_bias = 1 there is no bias to initialise";
    }
    if constexpr (requires(const P& q) { q.kernel_height + q.pad_y; }) {
      // kernel_size and pad set both sides (ParamDecl::Then): a side's key before them is replaced.
      const auto last = [&](const std::string& k) {
        const auto it = std::ranges::find(given_.rbegin(), given_.rend(), k);
        return it == given_.rend() ? -1 : std::distance(it, given_.rend()) - 1;
      };
      for (const char* both : {"kernel_size", "pad"}) {
        const std::string b = both;
        const bool side = b == "pad" ? key == "pad_y" || key == "pad_x" : key == "kernel_height" || key == "kernel_width";
        if (side && last(b) > last(key))
          return b + " after it sets both sides (the later key wins, as in cxxnet)";
      }
    }
    return {};
  }
  const P& param() const { return p_; }

 protected:
  void CheckRequired() const { P::Decl().CheckRequired(given_, this->Describe()); }
  P p_;
  std::vector<std::string> given_;
};

}  // namespace umbra::nn
