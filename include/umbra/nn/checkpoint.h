// Checkpoints: a Trainer's weights, updater state and counters into a ModelFile and back
// (model_file.h has the layout). Save/Restore give exact resumption: the weights, every updater
// state tensor, the update and step counters, and gradients still being accumulated over
// update_period. LoadWeights copies weights by name for finetuning and prediction.
// Mismatches (a missing weight, another shape) are errors naming the file and the weight.
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "umbra/nn/model_file.h"
#include "umbra/nn/trainer.h"
#include "umbra/parse.h"

namespace umbra::nn {
namespace detail {

inline std::string ShapeText(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + ")";
}

template <typename xpu, typename DType>
ModelTensor ToHost(const std::string& name, const Tensor<xpu, 2, DType>& t) {
  TensorContainer<cpu, 2, float> h(t.shape_);
  if constexpr (std::is_same_v<DType, float>) {
    CopyToHost(h.view(), t);
  } else {
    TensorContainer<cpu, 2, DType> tmp(t.shape_);
    CopyToHost(tmp.view(), t);
    for (index_t i = 0; i < h.Size(); ++i) h.dptr_[i] = float(tmp.dptr_[i]);
  }
  ModelTensor m{name, {t.size(0), t.size(1)}, std::vector<float>(h.dptr_, h.dptr_ + h.Size())};
  return m;
}
template <typename xpu, typename DType>
void FromHost(const ModelTensor& m, Tensor<xpu, 2, DType> t, const std::string& file) {
  // Weights are stored as 2-D (rows, cols) views; a file from another layout of the same size
  // is still a mismatch: the shape must be equal.
  const bool same = m.shape.size() == 2 && m.shape[0] == t.size(0) && m.shape[1] == t.size(1);
  UMBRA_CHECK(same, "model file '", file, "': '", m.name, "' has shape ", ShapeText(m.shape),
              " but the network's is (", t.size(0), ",", t.size(1), ")");
  // A ModelFile built in code (not read, where the reader checks it) may hold fewer values.
  UMBRA_CHECK(m.data.size() == size_t(t.shape_.Size()), "model file '", file, "': '", m.name, "' has shape ",
              ShapeText(m.shape), " but holds ", m.data.size(), " values");
  TensorContainer<cpu, 2, DType> h(t.shape_);
  for (index_t i = 0; i < h.Size(); ++i) h.dptr_[i] = DType(m.data[i]);
  Copy(t, h.view());
}

/// A NaN can reach the weights while the loss stays finite (batch norm's moving statistics are
/// read only in test mode): such a model is refused, so that no model file holds one and the last
/// good one stays newest.
inline void RefuseNonFinite(const std::string& name, double v, long steps) {
  UMBRA_CHECK(std::isfinite(v), "'", name, "' holds ", v, " after ", steps,
              " steps, although the loss stayed finite: the model is not saved (look for non-finite input "
              "data, or a learning rate too large)");
}
template <typename DType>
void RefuseNonFinite(const std::string& name, Tensor<cpu, 2, DType> t, long steps) {
  for (index_t i = 0; i < t.shape_[0]; ++i)
    for (index_t j = 0; j < t.shape_[1]; ++j) RefuseNonFinite(name, double(t.dptr_[i * t.stride_ + j]), steps);
}

}  // namespace detail

/// The integer meta entry `key` of model file `file`, or `otherwise` where it has none; one that
/// is no integer (a file written by hand: the checksum covers only what was written) is an
/// error naming the file and the key.
inline long MetaNumber(const ModelFile& m, const std::string& key, long otherwise, const std::string& file) {
  const auto it = m.meta.find(key);
  if (it == m.meta.end()) return otherwise;
  const auto v = ParseInteger(it->second, LONG_MIN, LONG_MAX);
  UMBRA_CHECK(v, "model file '", file, "': its ", key, " = '", it->second, "' is ",
              SpellsInteger(it->second) ? "out of range" : "not an integer");
  return long(*v);
}

/// Everything needed to continue training exactly.
template <typename xpu, typename DType>
ModelFile SaveCheckpoint(Trainer<xpu, DType>& tr, const std::string& net_text) {
  ModelFile m;
  m.net = net_text;
  m.meta["updates"] = std::to_string(tr.updates());
  m.meta["steps"] = std::to_string(tr.steps());
  m.meta["update_period"] = std::to_string(tr.update_period());
  m.meta["pending_steps"] = std::to_string(tr.pending_steps());
  const bool pending = tr.pending_gradients();
  tr.net().VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType> g) {
    m.tensors.push_back(detail::ToHost(name, w));
    if (pending && name.find(".moving_") == std::string::npos) m.tensors.push_back(detail::ToHost(name + ":grad", g));
  });
  tr.VisitUpdaterState([&](const std::string& name, Tensor<xpu, 2, DType> s) {
    m.tensors.push_back(detail::ToHost(name, s));
  });
  for (const ModelTensor& t : m.tensors)
    for (const float v : t.data) detail::RefuseNonFinite(t.name, v, tr.steps());
  return m;
}

/// SaveCheckpoint's check of every value it would save, in place: on the cpu a round that saves
/// no model is checked without copying the weights and the updater's state.
template <typename DType>
void CheckCheckpointFinite(Trainer<cpu, DType>& tr) {
  const bool pending = tr.pending_gradients();
  tr.net().VisitWeights([&](const std::string& name, Tensor<cpu, 2, DType> w, Tensor<cpu, 2, DType> g) {
    detail::RefuseNonFinite(name, w, tr.steps());
    if (pending && name.find(".moving_") == std::string::npos) detail::RefuseNonFinite(name + ":grad", g, tr.steps());
  });
  tr.VisitUpdaterState([&](const std::string& name, Tensor<cpu, 2, DType> s) {
    detail::RefuseNonFinite(name, s, tr.steps());
  });
}

/// Restores a checkpoint into a trainer built from the same network: every weight must be
/// present with the same shape, and the file may hold no weight the net lacks. The updater's
/// state (momentum, Adam's second moment) is restored weight by weight: where the file holds
/// exactly this run's updater's state tensors for the weight, they are read; where it holds
/// exactly another updater's (sgd's or nag's momentum into adam, adam's two moments into sgd:
/// the global updater changed, or a layer's own, fc1:updater), that weight's state starts from 0,
/// as cxxnet's resumes started it (it saved none). Returns those weights, for the caller to say
/// (empty: every state restored). Any other difference (a state tensor missing, or of a weight
/// the net lacks) is an error.
template <typename xpu, typename DType>
std::vector<std::string> RestoreCheckpoint(Trainer<xpu, DType>& tr, const ModelFile& m, const std::string& file) {
  std::set<std::string> used;
  // Each weight with an updater has a momentum; adam's also a second moment: the state tensors
  // this run wants, and those the file holds, of each weight.
  std::map<std::string, std::set<std::string>> want, have;
  const auto weight_of = [](const std::string& name) {
    for (const char* suffix : {":momentum", ":second_moment"})
      if (name.ends_with(suffix)) return name.substr(0, name.size() - std::strlen(suffix));
    return std::string();
  };
  tr.VisitUpdaterState([&](const std::string& name, Tensor<xpu, 2, DType>) { want[weight_of(name)].insert(name); });
  for (const ModelTensor& t : m.tensors)
    if (const std::string w = weight_of(t.name); !w.empty() && want.count(w)) have[w].insert(t.name);
  std::vector<std::string> restarted;
  for (const auto& [w, names] : want) {
    const std::set<std::string>& held = have[w];
    const std::set<std::string> sgd{w + ":momentum"}, adam{w + ":momentum", w + ":second_moment"};
    if (held != names && (held == sgd || held == adam)) {
      restarted.push_back(w);
      used.insert(held.begin(), held.end());
    }
  }
  auto take = [&](const std::string& name, Tensor<xpu, 2, DType> t) {
    const ModelTensor* mt = m.Find(name);
    UMBRA_CHECK(mt, "model file '", file, "' does not match the network: it has no '", name, "'");
    detail::FromHost(*mt, t, file);
    used.insert(name);
  };
  const auto number = [&](const char* key, long otherwise) { return MetaNumber(m, key, otherwise, file); };
  const long steps = number("steps", 0);
  tr.set_steps(steps);
  const long updates = number("updates", 0);
  UMBRA_CHECK(steps >= 0 && updates >= 0, "model file '", file, "': its steps = ", steps, " and updates = ", updates,
              " must not be negative");
  tr.set_updates(updates);
  // Files before update_period and pending_steps were saved: the steps of this run's period.
  const long period = number("update_period", tr.update_period());
  UMBRA_CHECK(period >= 1, "model file '", file, "': its update_period = ", period, " is not a period");
  const long pending_steps = number("pending_steps", steps % period);
  UMBRA_CHECK(pending_steps >= 0 && pending_steps < period, "model file '", file, "': its pending_steps = ",
              pending_steps, " is outside 0 .. update_period - 1 = ", period - 1);
  UMBRA_CHECK(pending_steps == 0 || period == tr.update_period(), "model file '", file, "' holds the gradients of ",
              pending_steps, " step(s) summed for an update every update_period = ", period,
              " steps, but this run has update_period = ", tr.update_period(),
              ": resume with update_period = ", period);
  tr.set_pending_steps(pending_steps);
  const bool pending = tr.pending_gradients();
  tr.net().VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType> g) {
    take(name, w);
    if (pending && name.find(".moving_") == std::string::npos) take(name + ":grad", g);
  });
  tr.VisitUpdaterState([&](const std::string& name, Tensor<xpu, 2, DType> t) {
    if (!std::ranges::binary_search(restarted, weight_of(name))) take(name, t);  // else left at 0
  });
  for (auto& t : m.tensors)
    UMBRA_CHECK(used.count(t.name), "model file '", file, "' does not match the network: '", t.name,
                "' is not in the network of the config");
  return restarted;
}

/// Copies weights by name (finetune, pred): those with the same name and shape are copied;
/// returns the names copied. With `strict` (prediction), every net weight must be found, and
/// every weight of the file must be the net's.
template <typename xpu, typename DType>
std::vector<std::string> LoadWeights(Net<xpu, DType>& net, const ModelFile& m, const std::string& file,
                                     bool strict) {
  std::vector<std::string> copied;
  net.VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType>) {
    const ModelTensor* mt = m.Find(name);
    if (!mt) {
      UMBRA_CHECK(!strict, "model file '", file, "' does not match the network: it has no '", name, "'");
      return;
    }
    const bool fits = mt->shape.size() == 2 && mt->shape[0] == w.size(0) && mt->shape[1] == w.size(1);
    if (!fits && !strict) return;
    detail::FromHost(*mt, w, file);
    copied.push_back(name);
  });
  // Prediction from a file of another net (one more layer, a batch_norm since removed) would run
  // on the weights both share and silently leave the rest out: every weight of the file (not
  // the updater's state, name:momentum ...) must be the net's. As resuming requires.
  for (const ModelTensor& t : m.tensors)
    UMBRA_CHECK(!strict || !IsWeightName(t.name) ||
                    std::find(copied.begin(), copied.end(), t.name) != copied.end(),
                "model file '", file, "' does not match the network: its weight '", t.name,
                "' is not in the network of the config");
  return copied;
}

}  // namespace umbra::nn
