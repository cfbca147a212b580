// Trainer::Profile on the gpu: CUDA events between the layers give one row per layer, the
// parts add up to the step, each interval lands on the layer that ran in it, and profiled
// steps leave the same weights as plain ones.
#include <gtest/gtest.h>

#include "harness/gpu_compare.h"
#include "harness/tiny_net.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

TEST(ProfilerGPU, RowsPartsAndWeightsAsPlainSteps) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<gpu> a(test::TinySpec(5, true), us), b(test::TinySpec(5, true), us);
  test::TinyBatch batch(3);
  auto x = test::ToGPU(batch.x.view());
  auto y = test::ToGPU(batch.y.view());
  const nn::StepProfile p = a.Profile(x.view(), y.view(), 4);
  for (int s = 0; s < 4; ++s) b.Train(x.view(), y.view());
  ASSERT_EQ(p.layers.size(), a.net().NumLayers());
  double parts = p.update_ms;
  for (auto& l : p.layers) {
    EXPECT_GE(l.fwd_ms, 0) << l.name;
    EXPECT_GE(l.bwd_ms, 0) << l.name;
    parts += l.fwd_ms + l.bwd_ms;
  }
  EXPECT_GT(p.device_ms, 0);
  EXPECT_LE(parts, p.device_ms * (1 + 1e-6));
  EXPECT_GE(p.wall_ms, p.device_ms * 0.99);  // events are timed on the device's clock
  // Same kernels in the same order; a tolerance only for reductions that may use atomics.
  test::ExpectSameWeights(a.net(), b.net(), 1e-6);
}

// The parts are the step's intervals by construction, so all-zero or shifted parts would pass
// the test above. Here one layer does nearly all the work (fc1's 256 x 2048 x 2048 products,
// about 2 GFLOP a pass: tens of microseconds on an H200, tens of milliseconds in the emulation,
// against a few microseconds for each other layer), so its forward and backward rows must be
// the largest, and every row must show some time (each layer launches work both ways).
TEST(ProfilerGPU, EachIntervalLandsOnItsLayer) {
  UMBRA_REQUIRE_GPU();
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(256, 1, 1, 2048);
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"h"}, {{"nhidden", "2048"}}},
              LayerSpec{"tanh", "t", {"h"}, {"h"}, {}},
              LayerSpec{"fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "10"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  nn::Trainer<gpu> t(s, test::SgdMomentum());
  auto x = test::ToGPU(test::RandomTensor(s.input_shape, 3).view());
  TensorContainer<cpu, 2> yc(Shape2(256, 1));
  for (index_t i = 0; i < 256; ++i) yc.dptr_[i] = float(i % 10);
  auto y = test::ToGPU(yc.view());
  t.Train(x.view(), y.view());  // the first step searches and allocates: not profiled
  const nn::StepProfile p = t.Profile(x.view(), y.view(), 2);
  ASSERT_EQ(p.layers.size(), 4u);
  EXPECT_EQ(p.layers[0].name, "fc1");
  EXPECT_GT(p.update_ms, 0);
  for (size_t i = 0; i < p.layers.size(); ++i) {
    EXPECT_GT(p.layers[i].fwd_ms, 0) << p.layers[i].name;
    EXPECT_GT(p.layers[i].bwd_ms, 0) << p.layers[i].name;
    if (i == 0) continue;
    EXPECT_GT(p.layers[0].fwd_ms, p.layers[i].fwd_ms) << p.layers[i].name;
    EXPECT_GT(p.layers[0].bwd_ms, p.layers[i].bwd_ms) << p.layers[i].name;
  }
}

}  // namespace
}  // namespace umbra
