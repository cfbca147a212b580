// Layers register themselves by type name; the net, the config parser and Python create them by
// name. Registration happens in each layer's .cc (cpu) and .cu (gpu) file through
// UMBRA_REGISTER_LAYER; the nn library is an object library so no registration is dropped.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "umbra/nn/layer.h"
#include "umbra/suggest.h"

namespace umbra::nn {

template <typename xpu, typename DType = float>
class LayerRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Layer<xpu, DType>>()>;
  struct Entry {
    Factory make;
    std::string help;  // parameter help (ParamDecl::Help of the layer's parameters)
  };

  static LayerRegistry& Get() {
    static LayerRegistry* r = new LayerRegistry();
    return *r;
  }
  bool Register(const std::string& type, Factory f, std::string help) {
    entries_[type] = Entry{std::move(f), std::move(help)};
    return true;
  }
  /// Creates a layer; an unknown type is an error listing the known ones.
  std::unique_ptr<Layer<xpu, DType>> Create(const std::string& type) const {
    auto it = entries_.find(type);
    if (it == entries_.end()) {
      std::string known;
      for (auto& kv : entries_) known += (known.empty() ? "" : ", ") + kv.first;
      UMBRA_THROW("unknown layer type '", type, "'; known types: ", known, DidYouMean(type, Names()));
    }
    return it->second.make();
  }
  /// How a fresh layer of `type` meets `key = value`: takes it, has no such key, or refuses the
  /// value (its error in *why, naming the layer as `name` where given). The config reader and
  /// Net (NetSpec defaults) judge keys outside a layer's block by it.
  enum class Takes { kNo, kYes, kRefused };
  Takes Probe(const std::string& type, const std::string& key, const std::string& value,
              std::string* why = nullptr, const std::string& name = "") const {
    auto layer = Create(type);
    if (!name.empty()) layer->set_name(name);
    try {
      return layer->SetParam(key, value) ? Takes::kYes : Takes::kNo;
    } catch (const Error& err) {
      if (why) *why = err.message();
      return Takes::kRefused;
    }
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> n;
    for (auto& kv : entries_) n.push_back(kv.first);
    return n;
  }
  const std::string& Help(const std::string& type) const { return entries_.at(type).help; }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace umbra::nn

#define UMBRA_NN_CAT2_(a, b) a##b
#define UMBRA_NN_CAT_(a, b) UMBRA_NN_CAT2_(a, b)
/// UMBRA_REGISTER_LAYER(xpu, DType, "name", Class, ParamStruct): registers Class<xpu, DType>.
#define UMBRA_REGISTER_LAYER(xpu, DType, name, Class, ParamStruct)                              \
  static const bool UMBRA_NN_CAT_(umbra_layer_reg_, __COUNTER__) =                               \
      ::umbra::nn::LayerRegistry<xpu, DType>::Get().Register(                                    \
          name, [] { return std::unique_ptr<::umbra::nn::Layer<xpu, DType>>(new Class<xpu, DType>()); }, \
          ParamStruct::Decl().Help())
