// The shared layer harness: every layer's tests go through it.
//   - MakeLayer: create by type (registry), set parameters, infer shapes, initialise weights.
//   - GradCheck: finite differences in double precision against Backward, for inputs and every
//     weight the layer shows to its visitor (objective = <out, R> for a fixed random R, or the
//     loss itself for loss layers).
//   - SaveLoadRoundTrip: weights saved by tag through the visitor (what model files hold) and
//     loaded into a second layer give the same test-mode outputs.
//   - UMBRA_COVERS_LAYER("name"): records that a test file has a harness case for a layer type;
//     the registry test fails for any registered type nobody covers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "harness/tensor_util.h"
#include "umbra/nn/net.h"  // LayerSpec (L)
#include "umbra/nn/registry.h"

namespace umbra::test {

using KV = std::vector<std::pair<std::string, std::string>>;

/// A layer of a hand-written net in one call: type, name, input and output nodes, parameters.
inline nn::LayerSpec L(std::string type, std::string name, std::vector<std::string> in, std::vector<std::string> out,
                       KV kv = {}) {
  return nn::LayerSpec{type, name, in, out, kv};
}

inline std::set<std::string>& CoveredLayers() {
  static std::set<std::string> s;
  return s;
}
#define UMBRA_COVERS_LAYER(name) \
  static const bool UMBRA_NN_CAT_(umbra_covers_, __COUNTER__) = ::umbra::test::CoveredLayers().insert(name).second

/// A layer with its nodes allocated: in_[i], out_[j] (out may alias in for in-place layers).
/// A layer with NumOut() == -1 (split) returns one shape that the net gives to each declared
/// output; the rig then makes `num_out` outputs of that shape. `seed` seeds the weight
/// initialisation (and later stochastic forward passes).
template <typename xpu, typename DType>
struct LayerRig {
  std::unique_ptr<nn::Layer<xpu, DType>> layer;
  std::vector<std::unique_ptr<nn::Node<xpu, DType>>> in_nodes, out_nodes;
  std::vector<nn::Node<xpu, DType>*> in, out;
  Random<xpu, DType> rnd{7};
  TensorContainer<xpu, 2, DType> label;
  nn::ForwardContext<xpu, DType> ctx;

  LayerRig(const std::string& type, const KV& params, const std::vector<Shape<4>>& in_shapes,
           bool inplace = false, int num_out = 2, uint64_t seed = 7) {
    rnd.Seed(seed);
    layer = nn::LayerRegistry<xpu, DType>::Get().Create(type);
    layer->set_name("test_" + type);
    for (auto& [k, v] : params)
      if (!layer->SetParam(k, v)) ADD_FAILURE() << "unknown key " << k << " for " << type;
    std::vector<Shape<4>> out_shapes = layer->InferShape(in_shapes);
    if (layer->NumOut() == -1 && out_shapes.size() == 1) out_shapes.assign(num_out, out_shapes[0]);
    for (auto& s : in_shapes) {
      in_nodes.emplace_back(new nn::Node<xpu, DType>());
      in_nodes.back()->shape = s;
      in_nodes.back()->Allocate();
      in.push_back(in_nodes.back().get());
    }
    if (inplace) {
      out = in;
    } else {
      for (auto& s : out_shapes) {
        out_nodes.emplace_back(new nn::Node<xpu, DType>());
        out_nodes.back()->shape = s;
        out_nodes.back()->Allocate();
        out.push_back(out_nodes.back().get());
      }
    }
    layer->InitWeights(rnd);
  }
  void SetLabel(const std::vector<DType>& values, index_t width = 1) {
    label.Resize(Shape2(index_t(values.size()) / width, width));
    for (size_t i = 0; i < values.size(); ++i) label.dptr_[i] = values[i];
    ctx.label = &label.view();
  }
  void Forward(bool is_train = true) {
    ctx.is_train = is_train;
    ctx.rnd = &rnd;
    layer->Forward(ctx, in, out);
  }
};

/// A layer's weights and their gradients, in visiting order (to compare two devices' layers).
template <typename xpu, typename DType>
std::vector<std::pair<Tensor<xpu, 2, DType>, Tensor<xpu, 2, DType>>> Weights(nn::Layer<xpu, DType>& l) {
  std::vector<std::pair<Tensor<xpu, 2, DType>, Tensor<xpu, 2, DType>>> w;
  l.VisitWeights([&](const std::string&, Tensor<xpu, 2, DType> a, Tensor<xpu, 2, DType> g) { w.push_back({a, g}); });
  return w;
}

/// Backward without prop_grad (a layer whose inputs no weight reaches: Net::DecideGradients)
/// after the same forward: the same weight gradients, and the inputs' gradients left as they
/// were (a sentinel), since nobody reads them.
template <typename Objective, typename Weights>
void ExpectNoPropGrad(LayerRig<cpu, double>& rig, Objective& objective,
                      const std::vector<TensorContainer<cpu, 4, double>>& R, Weights& weights,
                      const std::vector<TensorContainer<cpu, 2, double>>& gw) {
  constexpr double kSentinel = 4321.0;
  objective();
  for (size_t j = 0; j < rig.out.size(); ++j) Copy(rig.out[j]->grad.view(), R[j].view());
  for (auto* n : rig.in) n->grad = kSentinel;
  for (auto& w : weights) w.second.second = 0.0;
  rig.layer->Backward(false, rig.in, rig.out);
  for (size_t k = 0; k < rig.in.size(); ++k) {
    const double* g = rig.in[k]->grad.dptr_;
    const index_t n = rig.in[k]->grad.Size();
    EXPECT_EQ(std::count(g, g + n, kSentinel), n) << "Backward without prop_grad wrote input " << k << "'s gradient";
  }
  for (size_t k = 0; k < weights.size(); ++k)
    EXPECT_TRUE(AllNear(weights[k].second.second, gw[k].view(), 1e-12))
        << "weight " << weights[k].first << "'s gradient differs without prop_grad";
}

/// Finite-difference check of a cpu double layer. Inputs are filled uniformly in [lo, hi).
/// Checks at most `max_checks` elements per tensor (spread over it). Relative tolerance `tol`.
/// `fuse_relu`: the layer with a relu fused in (Layer::FuseRelu, which must accept);
/// `fuse_add`: with a sum fused in first (Layer::FuseAdd; in_shapes then lists its addend).
inline void GradCheck(const std::string& type, const KV& params,
                      const std::vector<Shape<4>>& in_shapes, const std::vector<double>& labels = {},
                      double lo = -1, double hi = 1, double tol = 1e-5, index_t max_checks = 60,
                      index_t label_width = 1, bool fuse_relu = false, bool fuse_add = false) {
  SCOPED_TRACE("gradient check of " + type + (fuse_add ? " with a fused sum" : "") +
               (fuse_relu ? " with a fused relu" : ""));
  LayerRig<cpu, double> rig(type, params, in_shapes);
  if (fuse_add) ASSERT_TRUE(rig.layer->FuseAdd());
  if (fuse_relu) ASSERT_TRUE(rig.layer->FuseRelu());
  Random<cpu, double> rnd(11);
  for (auto* n : rig.in) rnd.SampleUniform(&n->data, lo, hi);
  if (!labels.empty()) rig.SetLabel(labels, label_width);
  const bool loss = rig.layer->IsLoss();
  std::vector<TensorContainer<cpu, 4, double>> R;
  for (auto* o : rig.out) {
    R.emplace_back(o->shape);
    rnd.SampleUniform(&R.back(), -1.0, 1.0);
  }
  auto objective = [&]() {
    rig.rnd.Seed(3);  // stochastic layers (dropout) draw the same mask every time
    rig.Forward(true);
    if (loss) return rig.layer->Loss();
    double f = 0;
    for (size_t j = 0; j < rig.out.size(); ++j)
      for (index_t i = 0; i < R[j].Size(); ++i) f += rig.out[j]->data.dptr_[i] * R[j].dptr_[i];
    return f;
  };
  // Analytic gradients. Backward writes the inputs' gradients (=) and adds to the weights' (+=,
  // layer.h): the inputs' start as NaN and the weights' as random values G0, so a layer that
  // adds to an input's gradient, or writes over a weight's, fails here (in a net the buffers
  // hold other layers' numbers, and update_period or shared weights accumulate).
  objective();
  for (size_t j = 0; j < rig.out.size(); ++j) Copy(rig.out[j]->grad.view(), R[j].view());
  std::vector<std::pair<std::string, std::pair<Tensor<cpu, 2, double>, Tensor<cpu, 2, double>>>> weights;
  std::vector<TensorContainer<cpu, 2, double>> g0;
  Random<cpu, double> rnd_g0(17);
  rig.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2, double> w, Tensor<cpu, 2, double> g) {
    g0.emplace_back(g.shape_);
    rnd_g0.SampleUniform(&g0.back(), -1.0, 1.0);
    Copy(g, g0.back().view());
    weights.push_back({tag, {w, g}});
  });
  for (auto* n : rig.in) n->grad = std::numeric_limits<double>::quiet_NaN();
  rig.layer->Backward(true, rig.in, rig.out);
  std::vector<TensorContainer<cpu, 4, double>> gin;
  for (auto* n : rig.in) gin.emplace_back(n->grad);
  std::vector<TensorContainer<cpu, 2, double>> gw;
  for (size_t k = 0; k < weights.size(); ++k) {
    gw.emplace_back(weights[k].second.second);
    gw.back() -= g0[k].view();
  }
  ExpectNoPropGrad(rig, objective, R, weights, gw);

  const double h = 1e-6;
  auto check = [&](double* x, index_t n, const double* analytic, const std::string& what) {
    const index_t step = std::max<index_t>(1, n / max_checks);
    for (index_t i = 0; i < n; i += step) {
      const double keep = x[i];
      x[i] = keep + h;
      const double fp = objective();
      x[i] = keep - h;
      const double fm = objective();
      x[i] = keep;
      const double num = (fp - fm) / (2 * h);
      ASSERT_NEAR(analytic[i], num, tol * std::max(1.0, std::fabs(num)))
          << what << " element " << i << " of " << n;
    }
  };
  for (size_t k = 0; k < rig.in.size(); ++k)
    check(rig.in[k]->data.dptr_, rig.in[k]->data.Size(), gin[k].dptr_, "input " + std::to_string(k));
  for (size_t k = 0; k < weights.size(); ++k)
    check(weights[k].second.first.dptr_, weights[k].second.first.Size(), gw[k].dptr_,
          "weight " + weights[k].first);
}

/// Save/load round trip in the in-memory form of a model file (tag -> 2-D tensor). Rig A's
/// weights are moved off their initial values first (as training would), so that constant-
/// initialised ones (biases, slopes, moving statistics) carry information too; they are saved by
/// tag, a rig B with another weight seed must differ from them, then loads them through its
/// visitor, and a test-mode Forward of A and B on the same input (and labels) must agree exactly.
/// A tag B shows that A did not save, a shape mismatch, or a saved tag B never shows fails the
/// test naming the tag. Layers without weights pass trivially (nothing to save).
inline void SaveLoadRoundTrip(const std::string& type, const KV& params,
                              const std::vector<Shape<4>>& in_shapes,
                              const std::vector<double>& labels = {}, index_t label_width = 1) {
  SCOPED_TRACE("save/load round trip of " + type);
  using T2 = Tensor<cpu, 2, float>;
  LayerRig<cpu, float> a(type, params, in_shapes);
  LayerRig<cpu, float> b(type, params, in_shapes, false, 2, 1234);
  Random<cpu, float> rnd(13);
  for (auto* n : a.in) rnd.SampleUniform(&n->data, -1.f, 1.f);
  std::map<std::string, TensorContainer<cpu, 2, float>> saved;
  a.layer->VisitWeights([&](const std::string& tag, T2 w, T2) {
    // A positive shift keeps variances positive and every element away from its initial value.
    TensorContainer<cpu, 2, float> shift(w.shape_);
    rnd.SampleUniform(&shift, 0.25f, 0.75f);
    w += shift.view();
    if (!saved.emplace(tag, TensorContainer<cpu, 2, float>(w)).second)
      ADD_FAILURE() << type << " shows weight '" << tag << "' twice";
  });
  std::set<std::string> loaded;
  b.layer->VisitWeights([&](const std::string& tag, T2 w, T2) {
    auto it = saved.find(tag);
    if (it == saved.end()) {
      ADD_FAILURE() << "weight '" << tag << "' of " << type << " is missing from the saved weights";
      return;
    }
    if (it->second.shape_ != w.shape_) {
      ADD_FAILURE() << "weight '" << tag << "' of " << type << ": saved shape " << it->second.shape_
                    << " vs layer shape " << w.shape_;
      return;
    }
    EXPECT_FALSE(AllNear(w, it->second.view(), 0.0))
        << "weight '" << tag << "' is the same before loading: the round trip would prove nothing";
    Copy(w, it->second.view());
    loaded.insert(tag);
  });
  for (auto& kv : saved)
    if (!loaded.count(kv.first))
      ADD_FAILURE() << "saved weight '" << kv.first << "' of " << type << " was never loaded";
  for (size_t k = 0; k < a.in.size(); ++k) Copy(b.in[k]->data.view(), a.in[k]->data.view());
  if (!labels.empty()) {
    const std::vector<float> l(labels.begin(), labels.end());
    a.SetLabel(l, label_width);
    b.SetLabel(l, label_width);
  }
  a.Forward(false);
  b.Forward(false);
  ASSERT_EQ(a.out.size(), b.out.size());
  for (size_t j = 0; j < a.out.size(); ++j)
    EXPECT_TRUE(AllNear(b.out[j]->data.view(), a.out[j]->data.view(), 0.0)) << "output " << j;
  if (a.layer->IsLoss()) EXPECT_EQ(a.layer->Loss(), b.layer->Loss());
}

}  // namespace umbra::test
