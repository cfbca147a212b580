// Trainer::Profile on the gpu: CUDA events between the layers give one row per layer, the
// parts add up to the step, and profiled steps leave the same weights as plain ones.
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

}  // namespace
}  // namespace umbra
