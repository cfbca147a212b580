// Updaters: how a weight moves given its gradient. sgd (momentum, weight decay), nag (Nesterov),
// adam (Kingma & Ba, with bias correction); gradient clipping; learning-rate schedules counted in
// updates (cxxnet's convention): constant, expdecay, polydecay, factor, with minimum_lr and
// start_epoch. Settings resolve per weight: global keys, then "tag:key" (e.g. bias:wd = 0), then
// per-layer keys. Each Update also clears the gradient (gradients accumulate in between, which
// is how update_period works). State (momentum, Adam moments) is per weight and visible for saving.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "umbra/nn/param.h"
#include "umbra/tensor.h"

namespace umbra::nn {

struct UpdaterParam {
  std::string updater = "sgd";
  float lr = 0.01f, momentum = 0.9f, wd = 0.f;
  // cxxnet's cap of momentum; its default 0.9 held every higher momentum at 0.9 unsaid: here
  // none unless given (a note says where a config's momentum passes 0.9 without it).
  float final_momentum = 1.f;
  float clip_gradient = 0.f;  // > 0: clip each gradient element to [-c, c]
  float grad_scale = 1.f;     // multiplies gradients (e.g. 1/update_period)
  std::string lr_schedule = "constant";
  float lr_gamma = 0.5f, lr_alpha = 0.5f, lr_factor = 0.1f, lr_minimum = 1e-5f;
  long lr_step = 1, lr_start_epoch = 0;
  // Adam's betas as cxxnet's keys give them: the weight of the new gradient in each moment
  // (cxxnet's decay1/decay2), 1 - the usual beta (0.1 is PyTorch's 0.9).
  float adam_decay1 = 0.1f, adam_decay2 = 0.001f, adam_eps = 1e-8f;
  // The smallest beta1 / beta2 (cxxnet's, 1 - the usual beta): the moments decay by 1 - beta in
  // float, which is 1 below about 3e-8 (beta2 = 1e-17 left every weight where it was, unsaid;
  // beta1 = 1e-17 divided by a bias correction of 0), and off by percents near 1e-6.
  static constexpr double kMinAdamDecay = 1e-6;
  static const ParamDecl<UpdaterParam>& Decl() {
    static const ParamDecl<UpdaterParam> d = [] {
      ParamDecl<UpdaterParam> d;
      d.Field(&UpdaterParam::updater, "updater", "update rule").OneOf({"sgd", "nag", "adam"});
      d.Field(&UpdaterParam::lr, "lr", "base learning rate").Min(0).Alias("eta");
      d.Field(&UpdaterParam::momentum, "momentum", "momentum of sgd/nag").Range(0, 1);
      d.Field(&UpdaterParam::final_momentum, "final_momentum",
              "cxxnet's cap of momentum (its default 0.9 held a higher momentum there; none here)").Range(0, 1);
      d.Field(&UpdaterParam::wd, "wd", "weight decay (L2) coefficient").Min(0);
      d.Field(&UpdaterParam::clip_gradient, "clip_gradient", "> 0: clip gradients to [-c, c]").Min(0);
      d.Field(&UpdaterParam::grad_scale, "grad_scale", "multiplier of the gradient").Min(0);
      // The schedule's keys also as eta:..., as cxxnet took them.
      d.Field(&UpdaterParam::lr_schedule, "lr:schedule", "learning-rate schedule")
          .OneOf({"constant", "expdecay", "polydecay", "factor"}).Alias("eta:schedule");
      d.Field(&UpdaterParam::lr_gamma, "lr:gamma", "decay rate of expdecay/polydecay").Min(0).Alias("eta:gamma");
      d.Field(&UpdaterParam::lr_alpha, "lr:alpha", "exponent of polydecay").Min(0).Alias("eta:alpha");
      d.Field(&UpdaterParam::lr_factor, "lr:factor", "multiplier of the factor schedule").Min(0).Alias("eta:factor");
      d.Field(&UpdaterParam::lr_step, "lr:step", "updates per schedule step: the rate changes once a step").Min(1)
          .Alias("eta:step");
      d.Field(&UpdaterParam::lr_minimum, "lr:minimum_lr",
              "a decaying schedule's rate never goes below it (nor does it raise a lower base rate, as cxxnet's did)")
          .Min(0)
          .Alias("eta:minimum_lr");
      d.Field(&UpdaterParam::lr_start_epoch, "lr:start_epoch",
              "updates at the base rate; from then on the schedule of the whole count").Min(0)
          .Alias("eta:start_epoch");
      d.Field(&UpdaterParam::adam_decay1, "beta1",
              "adam, as cxxnet: the new gradient's weight in the first moment, 1 - the usual beta1 (0.1 = PyTorch's "
              "0.9); at least 1e-6, below which 1 - beta1 rounds in float")
          .Range(kMinAdamDecay, 1);
      d.Field(&UpdaterParam::adam_decay2, "beta2",
              "adam, as cxxnet: the new gradient's weight in the second moment, 1 - the usual beta2 (0.001 = PyTorch's "
              "0.999); at least 1e-6")
          .Range(kMinAdamDecay, 1);
      d.Field(&UpdaterParam::adam_eps, "eps", "adam: denominator epsilon").Above(0);
      return d;
    }();
    return d;
  }
  /// The scheduled learning rate after `t` updates: the base rate for the first start_epoch
  /// updates, then a function of the whole steps of lr:step updates in t (cxxnet divided
  /// integers: the rate is constant within a step), floored at minimum_lr (cxxnet's default
  /// 1e-5). Unlike cxxnet's, the floor never raises a base rate below it: cxxnet's raised every
  /// rate to it under every schedule, so a layer at lr = 0 trained at 1e-5 and fine-tuning at
  /// 1e-6 ran at 1e-5; a rate written is the rate trained.
  double LearningRate(double t) const {
    if (lr_schedule == "constant" || t < double(lr_start_epoch)) return lr;
    const double steps = std::floor(t / double(lr_step));
    double r = lr;
    if (lr_schedule == "expdecay") r = lr * std::pow(lr_gamma, steps);
    else if (lr_schedule == "polydecay") r = lr * std::pow(1.0 + steps * lr_gamma, -lr_alpha);
    else if (lr_schedule == "factor") r = lr * std::pow(lr_factor, steps);
    return std::max(r, std::min<double>(lr, lr_minimum));
  }
  /// Why `key` (an updater key, lr: or eta:, without its scope) changes nothing under these settings, or
  /// empty: lr:gamma under the factor schedule (which reads lr:factor) was taken and ignored.
  /// (eps is also batch norm's key: the caller asks only for an eps that reaches no layer.)
  std::string KeyWithoutEffect(const std::string& key) const {
    const std::string k = key.rfind("eta:", 0) == 0 ? "lr:" + key.substr(4) : key;
    const auto needs = [&](std::initializer_list<const char*> schedules) {
      std::string list;
      for (const char* s : schedules) {
        if (lr_schedule == s) return std::string();
        list += (list.empty() ? "" : " or ") + std::string(s);
      }
      return "lr:schedule = " + lr_schedule + " does not read it (" + list + " does)";
    };
    if (k == "lr:gamma") return needs({"expdecay", "polydecay"});
    if (k == "lr:alpha") return needs({"polydecay"});
    if (k == "lr:factor") return needs({"factor"});
    if (k == "lr:step" || k == "lr:minimum_lr" || k == "lr:start_epoch")
      return needs({"expdecay", "polydecay", "factor"});
    if ((k == "momentum" || k == "final_momentum") && updater == "adam") return "updater = adam does not read it (sgd and nag do)";
    if ((k == "beta1" || k == "beta2" || k == "eps") && updater != "adam")
      return "updater = " + updater + " does not read it (adam does)";
    return {};
  }
};

/// A learning-rate schedule key (lr:gamma, or cxxnet's eta:gamma): its colon scopes nothing.
inline bool IsScheduleKey(const std::string& k) { return k.rfind("lr:", 0) == 0 || k.rfind("eta:", 0) == 0; }

/// The tag cxxnet's updaters knew a weight of tag `tag` by, where it is not its own: the
/// batch_norm of the cxxnet its Inception-BN config was written for (wmat:lr = 0.05 and no
/// global rate; its batch_norm_layer-inl.hpp at 2499fa9c) visited scale and shift as "wmat",
/// its prelu the slope as "bias". (Its last batch_norm visited each under two tags at once,
/// weight and gamma, bias and beta: nothing to follow.) Their keys reach these weights, so
/// cxxnet's configs train them at the rates they set; gamma:, beta: and slope: keys, more
/// specific, win over them. Empty for other tags.
inline std::string CxxnetTag(const std::string& tag) {
  if (tag == "gamma" || tag == "beta") return "wmat";
  if (tag == "slope") return "bias";
  return {};
}

/// A scoped updater key's scope ("layer", "tag" or "layer.tag") and its key: "fc1:lr" is (fc1,
/// lr), "fc1:wmat:lr" (cxxnet's `wmat:lr` inside a layer) is (fc1.wmat, lr), "fc1:lr:gamma" is
/// (fc1, lr:gamma). A global key or a schedule key (lr:gamma) is no scoped one.
struct ScopedKey {
  bool scoped = false;
  std::string scope, key;
};
inline ScopedKey SplitScopedKey(const std::string& key) {
  const auto colon = key.find(':');
  if (IsScheduleKey(key) || colon == std::string::npos) return {false, "", key};
  std::string scope = key.substr(0, colon), rest = key.substr(colon + 1);
  const auto colon2 = rest.find(':');
  if (colon2 != std::string::npos && !IsScheduleKey(rest))
    scope += "." + rest.substr(0, colon2), rest = rest.substr(colon2 + 1);
  return {true, scope, rest};
}

/// The scopes whose keys reach weight "layer.tag", broadest first: its cxxnet tag (above), its
/// tag, its layer, the layer's cxxnet tag, the weight.
inline std::vector<std::string> WeightScopes(const std::string& weight_name) {
  const auto dot = weight_name.rfind('.');
  const std::string layer = weight_name.substr(0, dot), tag = weight_name.substr(dot + 1);
  const std::string old = CxxnetTag(tag);
  if (old.empty()) return {tag, layer, weight_name};
  return {old, tag, layer, layer + "." + old, weight_name};
}

/// Resolves settings for weight "layer.tag" from keys given as "key" (global), "tag:key",
/// "layer:key" (cxxnet's per-layer override) and "layer:tag:key" (wmat:lr inside a layer).
class UpdaterSettings {
 public:
  /// Records key=value; returns false when no updater key matches (after stripping a prefix).
  bool Set(const std::string& key, const std::string& value) {
    UpdaterParam probe;
    const auto [scoped, scope, rest] = SplitScopedKey(key);  // layer:tag:key scopes one weight: "layer.tag"
    if (!scoped) {
      if (!UpdaterParam::Decl().Set(probe, key, value)) return false;
      global_.push_back({key, value});
      return true;
    }
    if (!UpdaterParam::Decl().Set(probe, rest, value)) return false;
    scoped_[scope].push_back({rest, value});
    return true;
  }
  /// The settings of weight "layer.tag": global keys, then tag:key, then layer:key, then
  /// layer:tag:key (WeightScopes); the most specific wins.
  UpdaterParam For(const std::string& weight_name) const {
    UpdaterParam p;
    for (auto& [k, v] : global_) UpdaterParam::Decl().Set(p, k, v);
    for (const std::string& scope : WeightScopes(weight_name)) {
      auto it = scoped_.find(scope);
      if (it != scoped_.end())
        for (auto& [k, v] : it->second) UpdaterParam::Decl().Set(p, k, v);
    }
    p.momentum = std::min(p.momentum, p.final_momentum);
    return p;
  }
  /// The scopes keys were given for: "layer", "tag" or "layer.tag".
  std::vector<std::string> Scopes() const {
    std::vector<std::string> s;
    for (const auto& kv : scoped_) s.push_back(kv.first);
    return s;
  }

 private:
  std::vector<std::pair<std::string, std::string>> global_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> scoped_;
};

/// The names updater settings may be scoped to in a net with these weights ("layer.tag"): each
/// weight's WeightScopes. The CLI (which names the key's line) and Trainer (settings
/// built in code) check scopes against the same set.
inline std::set<std::string> ScopeNames(const std::vector<std::string>& weights) {
  std::set<std::string> known;
  for (const std::string& name : weights)
    for (std::string& scope : WeightScopes(name)) known.insert(std::move(scope));
  return known;
}

/// The update of one weight. Weights whose tag starts with "moving_" are statistics, not trained:
/// make no updater for them.
template <typename xpu, typename DType = float>
class Updater {
 public:
  Updater(const UpdaterParam& p, const Shape<2>& shape) : p_(p) {
    m_.Resize(shape, DType(0));
    if (p_.updater == "adam") v_.Resize(shape, DType(0));
  }
  /// w moves by g (scaled, clipped, decayed); g is cleared. `t` is the number of earlier updates.
  void Update(Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType> g, long t);
  /// State tensors for saving: momentum (and Adam's second moment).
  std::vector<Tensor<xpu, 2, DType>> State() {
    std::vector<Tensor<xpu, 2, DType>> s{m_.view()};
    if (p_.updater == "adam") s.push_back(v_.view());
    return s;
  }
  const UpdaterParam& param() const { return p_; }

 private:
  UpdaterParam p_;
  TensorContainer<xpu, 2, DType> m_, v_;
};

/// Clips x to [-c, c] (c > 0).
struct clip {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType x, DType c) { return x > c ? c : (x < -c ? -c : x); }
};

template <typename xpu, typename DType>
void Updater<xpu, DType>::Update(Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType> g, long t) {
  // The one-pass loop below reads w.Size() values of its state: a weight of another shape than
  // the one it was made for overran it (the expressions would have said so; this loop did not).
  UMBRA_CHECK(w.shape_ == m_.shape_ && g.shape_ == m_.shape_, "updater made for a weight of shape ", m_.shape_,
              " given weight ", w.shape_, " and gradient ", g.shape_);
  const DType lr = DType(p_.LearningRate(double(t)));
  const DType wd = DType(p_.wd), mom = DType(p_.momentum), gs = DType(p_.grad_scale);
  if (p_.clip_gradient > 0) g = F<clip>(g * gs, DType(p_.clip_gradient));
  else if (gs != DType(1)) g *= gs;
  Tensor<xpu, 2, DType> m = m_.view();
  if constexpr (std::is_same_v<xpu, cpu>) {
    if (p_.updater == "sgd" && w.CheckContiguous() && g.CheckContiguous()) {
      // One pass instead of three (m, then w, then clearing g): the update reads and writes
      // every weight's three arrays once. A statement has one destination, so this is a loop.
      DType* UMBRA_RESTRICT wp = w.dptr_;
      DType* UMBRA_RESTRICT gp = g.dptr_;
      DType* UMBRA_RESTRICT mp = m.dptr_;
      const index_t n = w.Size();
#pragma omp parallel for simd schedule(static) if (n >= expr::kParallelThreshold)
      for (index_t i = 0; i < n; ++i) {
        mp[i] = mp[i] * mom - (gp[i] + wp[i] * wd) * lr;
        wp[i] += mp[i];
        gp[i] = DType(0);
      }
      return;
    }
  }
  if (p_.updater == "sgd") {
    m = m * mom - (g + w * wd) * lr;  // one fused pass over m, g and w
    w += m;
  } else if (p_.updater == "nag") {
    // Nesterov in the form of Sutskever et al.: w += -mom * m_old + (1 + mom) * m_new.
    g += w * wd;  // decay at the current weights, before w moves
    w -= m * mom;
    m = m * mom - g * lr;
    w += m * (DType(1) + mom);
  } else {
    const double b1 = 1.0 - p_.adam_decay1, b2 = 1.0 - p_.adam_decay2, k = double(t) + 1;
    const DType c = DType(lr * std::sqrt(1 - std::pow(b2, k)) / (1 - std::pow(b1, k)));
    Tensor<xpu, 2, DType> v = v_.view();
    g += w * wd;
    m = m * DType(b1) + g * DType(1 - b1);
    v = v * DType(b2) + F<op::square>(g) * DType(1 - b2);
    w -= m * c / (F<op::sqrt>(v) + DType(p_.adam_eps));
  }
  g = DType(0);
}

}  // namespace umbra::nn
