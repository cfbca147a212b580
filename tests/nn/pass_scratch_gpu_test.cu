// cuDNN's convolution workspaces come from the running pass's gap in the node arena
// (pass_scratch.h) where they fit: training is unchanged, and the workspace adds nothing to
// the peak. In the emulation the stand-in cuDNN writes NaN over every workspace it is given
// (as a real one may write all of it) and reports the workspace size UMBRA_STUB_CUDNN_WS asks
// for, so a gap that overlapped a live node would change the gradients here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "harness/gpu_compare.h"
#include "umbra/nn/net.h"
#if defined(UMBRA_CUDA_EMU)
#include "../cuda_stub/stub.h"  // ConvCallsWithAlgo
#endif

namespace umbra {
namespace pass_scratch_test {

using nn::LayerSpec;

// Two 3x3 convolutions of (4, 3, 16, 16), 8 channels each (32 KiB outputs), a relu between
// (fused into the first), then a fullc: each pass's gap is what the arena's other nodes leave
// free at its step, 32 KiB or more. `cap` (MiB) keys cuDNN's search per net, so each net here
// searches again (and sees the workspace size set for it).
nn::NetSpec Spec(int cap) {
  const std::vector<std::pair<std::string, std::string>> conv = {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"},
                                                   {"tf32", "0"}, {"cudnn_workspace", std::to_string(cap)}};
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 16, 16);
  s.seed = 5;
  s.layers = {LayerSpec{"conv", "c1", {"in"}, {"c1"}, conv},
              LayerSpec{"relu", "r1", {"c1"}, {"r1"}, {}},
              LayerSpec{"conv", "c2", {"r1"}, {"c2"}, conv},
              LayerSpec{"flatten", "f", {"c2"}, {"f"}, {}},
              LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  return s;
}

// What StepPeak saw: the bytes the second step's passes took beyond what was in use before it,
// and the GPU net's arenas placed (2: the first step planned its scratch in: Net::PlanScratch)
// and node storage (elements).
struct Seen {
  size_t peak;
  int plans;
  index_t elements;
};

// Trains `cap`'s net two steps' passes (no update) beside the CPU net; expects the CPU's
// gradients, losses and outputs (the second plan carries the first step's output over).
Seen StepPeak(int cap, const char* ws_bytes) {
  SCOPED_TRACE(std::string("workspace ") + ws_bytes + " bytes");
  setenv("UMBRA_STUB_CUDNN_WS", ws_bytes, 1);
  const nn::NetSpec s = Spec(cap);
  nn::Net<cpu> hc(s);
  nn::Net<gpu> gc(s);
  const test::RandomBatch b(s.input_shape, 3, [](index_t i) { return i % 3; });
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  auto& alloc = cuda::CachingAllocator::Get();
  size_t peak = 0;
  for (int pass = 0; pass < 2; ++pass) {  // the first searches (its scratch is not the step's)
    UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
    const size_t before = alloc.GetStats(dev).in_use;
    alloc.ResetHighWater(dev);
    test::PassesOnBoth(hc, gc, b, 1);
    EXPECT_NEAR(gc.Loss(), hc.Loss(), 1e-4 * std::max(1.0, std::fabs(hc.Loss()))) << "pass " << pass;
    EXPECT_TRUE(test::AllNear(test::ToCPU(gc.Output().data).view(), hc.Output().data, 1e-4)) << "output, pass " << pass;
    UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
    peak = alloc.GetStats(dev).high_water - before;
  }
  unsetenv("UMBRA_STUB_CUDNN_WS");
  const auto want = test::Gradients(hc), got = test::Gradients(gc);
  EXPECT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size() && k < got.size(); ++k)
    EXPECT_TRUE(test::NormNear(got[k].view(), want[k].view(), 1e-4)) << "gradient " << k;
  return {peak, gc.ArenaPlans(), gc.NodeElements()};
}

TEST(PassScratchGPU, WorkspacesFromTheGapLeaveTrainingAndThePeakAlone) {
  UMBRA_REQUIRE_GPU();
  const Seen none = StepPeak(1001, "0"), small = StepPeak(1002, "4096"), larger = StepPeak(1003, "16384");
#if defined(UMBRA_CUDA_EMU)
  // Both fit the gaps (at least the 32 KiB output): the peak does not move, the arena stays.
  EXPECT_EQ(small.peak, none.peak);
  EXPECT_EQ(larger.peak, none.peak);
  EXPECT_EQ(none.plans, 1);
  EXPECT_EQ(larger.plans, 1);
  EXPECT_EQ(larger.elements, none.elements);
  // One larger than the whole arena: the first step took it from the allocator, on top of the
  // arena; then the arena was planned again with it (the net's nodes are far smaller: the new
  // arena is about the workspace and what is live beside it), and the second step takes nothing.
  const Seen huge = StepPeak(1004, "8388608");
  EXPECT_EQ(huge.plans, 2);
  EXPECT_EQ(huge.peak, none.peak);
  EXPECT_GE(huge.elements * index_t(sizeof(float)), index_t(8) << 20);
  EXPECT_LE(huge.elements - none.elements, index_t(8) << 20 >> 2) << "the arena grew by more than the workspace";
#else
  (void)none, (void)small, (void)larger;  // a real cuDNN picks its own workspaces
#endif
}

#if defined(UMBRA_CUDA_EMU)
// Where the second plan's arena cannot be had, the net places its first plan again and trains
// on as before: the stand-in's memory is capped between the first step's forward and backward
// (the backward's workspaces come from the allocator's cache, its searches were made by an
// earlier net of the same geometry), so that the new arena (about the 8 MiB workspace) fails
// while the old one (about 100 KiB) fits. Outputs and gradients as the CPU net's after it and
// after a step with the cap lifted; the arena is the first plan's size.
TEST(PassScratchGPU, FirstPlanPlacedAgainWhereTheSecondCannotBeHad) {
  setenv("UMBRA_STUB_CUDNN_WS", "8388608", 1);
  const nn::NetSpec s = Spec(1008);
  const test::RandomBatch b(s.input_shape, 3, [](index_t i) { return i % 3; });
  {
    nn::Net<gpu> searches(s);  // the geometry's searches, kept for the nets after it
    searches.Forward(true, b.x.view(), &b.y.view());
    searches.Backward();
  }
  nn::Net<cpu> hc(s);
  nn::Net<gpu> gc(s);
  const index_t first_plan = gc.NodeElements();
  hc.Forward(true, b.hx.view(), &b.hy.view());
  hc.Backward();
  gc.Forward(true, b.x.view(), &b.y.view());
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  const size_t was = umbra_stub::SetMemoryLimit(umbra_stub::MemoryUsed() - (size_t(7) << 20));
  gc.Backward();
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  umbra_stub::SetMemoryLimit(was);
  EXPECT_EQ(gc.ArenaPlans(), 2);
  EXPECT_EQ(gc.NodeElements(), first_plan) << "not the first plan's arena";
  EXPECT_TRUE(test::AllNear(test::ToCPU(gc.Output().data).view(), hc.Output().data, 1e-4)) << "output";
  test::PassesOnBoth(hc, gc, b, 1);
  unsetenv("UMBRA_STUB_CUDNN_WS");
  EXPECT_TRUE(test::AllNear(test::ToCPU(gc.Output().data).view(), hc.Output().data, 1e-4)) << "output, step 2";
  const auto want = test::Gradients(hc), got = test::Gradients(gc);
  for (size_t k = 0; k < want.size() && k < got.size(); ++k)
    EXPECT_TRUE(test::NormNear(got[k].view(), want[k].view(), 1e-4)) << "gradient " << k;
}

// The stand-in's search answers two algorithms, the first 1% faster (within the pick's slack)
// with the larger workspace: each call takes the faster where that workspace fits what its
// pass's gap has free (all of this net's passes have 32 KiB or more), and the smaller where it
// does not, so that neither costs memory. (The least workspace everywhere fails the first
// half; the fastest everywhere, the second.)
TEST(PassScratchGPU, EachCallTakesTheFasterAlgorithmWhereItsWorkspaceFitsTheGap) {
  const Seen none = StepPeak(1005, "0");
  long fast = umbra_stub::ConvCallsWithAlgo(0), small = umbra_stub::ConvCallsWithAlgo(1);
  EXPECT_EQ(StepPeak(1006, "16384,0").peak, none.peak);
  EXPECT_GT(umbra_stub::ConvCallsWithAlgo(0), fast);
  EXPECT_EQ(umbra_stub::ConvCallsWithAlgo(1), small) << "calls took the smaller workspace where the faster fit";
  fast = umbra_stub::ConvCallsWithAlgo(0);
  EXPECT_EQ(StepPeak(1007, "8388608,0").peak, none.peak);
  EXPECT_EQ(umbra_stub::ConvCallsWithAlgo(0), fast) << "calls took a workspace larger than their gap";
  EXPECT_GT(umbra_stub::ConvCallsWithAlgo(1), small);
}
#endif

}  // namespace pass_scratch_test
}  // namespace umbra
