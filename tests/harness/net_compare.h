// Nets and a side-by-side check for the tests of the net's memory plan and fusions (net_test.cc,
// net_fusion_test.cc): a ResNet-style residual block, and two trainers stepped alike.
#pragma once

#include <string>
#include <vector>

#include "harness/layer_check.h"
#include "harness/tensor_util.h"
#include "umbra/nn/net.h"
#include "umbra/nn/trainer.h"

namespace umbra::test {

// A residual block as the ResNet configs write it: out-of-place batch_norm and relu, a split
// whose outputs view its input, an eltwise_sum, pooling and flatten (a view too).
inline nn::NetSpec Residual(index_t batch) {
  nn::NetSpec s;
  s.input_shape = Shape4(batch, 3, 8, 8);
  s.seed = 3;
  s.defaults = {{"init", "xavier"}};
  s.layers = {L("conv", "c0", {"in"}, {"c0"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("batch_norm", "bn0", {"c0"}, {"b0"}),
              L("relu", "r0", {"b0"}, {"r0"}),
              L("split", "sp", {"r0"}, {"x", "id"}),
              L("conv", "c1", {"x"}, {"c1"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("batch_norm", "bn1", {"c1"}, {"b1"}),
              L("relu", "r1", {"b1"}, {"r1"}),
              L("conv", "c2", {"r1"}, {"c2"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("batch_norm", "bn2", {"c2"}, {"b2"}),
              L("eltwise_sum", "sum", {"b2", "id"}, {"s"}),
              L("relu", "rs", {"s"}, {"rs"}),
              L("max_pooling", "pool", {"rs"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}}),
              L("flatten", "flat", {"p"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "4"}}),
              L("softmax", "loss", {"o"}, {"prob"})};
  return s;
}

// Trains a and b (nets of the same spec but for how they are laid out or fused) on the same
// `steps` random batches (seeds seed0, seed0 + 1, ...; labels of `classes` classes): the same
// loss and output each step, then the same weights and the same test-mode output, exactly.
inline void ExpectTrainExactlyAlike(nn::Trainer<cpu>& a, nn::Trainer<cpu>& b, const Shape<4>& in,
                                    index_t classes, int steps = 4, uint64_t seed0 = 0) {
  const index_t n = in[0];
  for (uint64_t k = 0; k < uint64_t(steps); ++k) {
    TensorContainer<cpu, 4> x(in);
    TensorContainer<cpu, 2> y(Shape2(n, 1));
    Random<cpu> r(seed0 + k);
    r.SampleUniform(&x, -1.f, 1.f);
    for (index_t i = 0; i < n; ++i) y.dptr_[i] = float((i + k) % classes);
    EXPECT_EQ(a.Step(x.view(), y.view()), b.Step(x.view(), y.view())) << "step " << k;
    EXPECT_TRUE(AllNear(a.net().Output().data, b.net().Output().data, 0)) << "step " << k;
  }
  std::vector<float> wa, wb;
  for (auto [t, out] : {std::pair{&a, &wa}, std::pair{&b, &wb}})
    t->net().VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
      out->insert(out->end(), w.dptr_, w.dptr_ + w.Size());
    });
  EXPECT_EQ(wa, wb);
  // A test-mode pass on the training net reads the same buffers in forward order only.
  TensorContainer<cpu, 4> x(in, 0.25f);
  a.Predict(x.view());
  b.Predict(x.view());
  EXPECT_TRUE(AllNear(a.net().Output().data, b.net().Output().data, 0));
}

}  // namespace umbra::test
