// A tiny classifier and its batches for trainer and checkpoint tests: input (4, 1, 1, 6),
// fullc(hidden) [-> batch_norm] -> tanh -> fullc(3) -> softmax; batch `seed` has uniform inputs
// and labels (i + seed) % 3.
#pragma once

#include <string>

#include "umbra/nn/net.h"
#include "umbra/nn/updater.h"

namespace umbra::test {

/// SGD at lr 0.1 with momentum 0.9: the trainer tests' settings (a side-by-side pair, a profile).
inline nn::UpdaterSettings SgdMomentum() {
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  us.Set("momentum", "0.9");
  return us;
}

/// fullc(6) -> sigmoid -> fullc(4) -> softmax on (batch, 2, 3, 3): the Net tests' small net.
inline nn::NetSpec SmallSpec(index_t batch) {
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(batch, 2, 3, 3);
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"h"}, {{"nhidden", "6"}}}, LayerSpec{"sigmoid", "act", {"h"}, {"h"}, {}},
              LayerSpec{"fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "4"}}}, LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  return s;
}

/// A batch for SmallSpec(3) in double: inputs uniform in [-1, 1) (seed 5), labels 0, 3, 1.
struct SmallBatch {
  TensorContainer<cpu, 4, double> x{Shape4(3, 2, 3, 3)};
  TensorContainer<cpu, 2, double> y{Shape2(3, 1)};
  SmallBatch() {
    Random<cpu, double> rnd(5);
    rnd.SampleUniform(&x, -1.0, 1.0);
    y.dptr_[0] = 0, y.dptr_[1] = 3, y.dptr_[2] = 1;
  }
};

inline nn::NetSpec TinySpec(index_t hidden = 5, bool batch_norm = false) {
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(4, 1, 1, 6);
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"h"}, {{"nhidden", std::to_string(hidden)}}}};
  if (batch_norm) s.layers.push_back(LayerSpec{"batch_norm", "bn", {"h"}, {"hb"}, {}});
  const std::string h = batch_norm ? "hb" : "h";
  s.layers.push_back(LayerSpec{"tanh", "t", {h}, {h}, {}});
  s.layers.push_back(LayerSpec{"fullc", "fc2", {h}, {"o"}, {{"nhidden", "3"}}});
  s.layers.push_back(LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}});
  return s;
}

struct TinyBatch {
  TensorContainer<cpu, 4> x{Shape4(4, 1, 1, 6)};
  TensorContainer<cpu, 2> y{Shape2(4, 1)};
  explicit TinyBatch(uint64_t seed) {
    Random<cpu> r(seed);
    r.SampleUniform(&x);
    for (index_t i = 0; i < 4; ++i) y.dptr_[i] = float((i + seed) % 3);
  }
};

}  // namespace umbra::test
