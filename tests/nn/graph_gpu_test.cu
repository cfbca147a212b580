// CUDA graphs for training steps (Trainer::set_cuda_graph, step_graph.h) against ordinary
// steps: the same losses and weights through conv (cuDNN and im2col), batch_norm (cuDNN's and
// umbra's), pooling, fullc and softmax, with the input alternating between two buffers (two
// graphs, as the feeder double-buffers) and a learning-rate schedule (the updates stay outside
// the graph); bf16 convolutions, whose operand copies come from the allocator inside the
// captured step, and bf16 fullc, whose backward takes the copies its forward made in the graph;
// dropout, whose replays draw new masks; the allocator's capture pools, and a graph's memory
// against a plain step's.
#include <gtest/gtest.h>

#include <cstdlib>

#include "harness/gpu_compare.h"
#include "umbra/nn/trainer.h"
#include "umbra/tensor/cuda/allocator.h"

namespace umbra {
namespace {

using nn::LayerSpec;

nn::NetSpec ConvNet(const std::string& conv_dtype = "float32", bool dropout = false, const std::string& bn_algo = "cudnn") {
  nn::NetSpec s;
  s.input_shape = Shape4(8, 3, 12, 12);
  s.seed = 5;
  s.layers = {LayerSpec{"conv", "c1", {"in"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}, {"dtype", conv_dtype}}},
              LayerSpec{"batch_norm", "bn1", {"c1"}, {"b1"}, {{"algo", bn_algo}}},
              LayerSpec{"relu", "r1", {"b1"}, {"b1"}, {}},
              LayerSpec{"max_pooling", "p1", {"b1"}, {"p1"}, {{"kernel_size", "2"}, {"stride", "2"}}},
              // the im2col + cuBLAS path beside cuDNN's
              LayerSpec{"conv", "c2", {"p1"}, {"c2"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"algo", "im2col"}}},
              LayerSpec{"relu", "r2", {"c2"}, {"c2"}, {}},
              LayerSpec{"flatten", "f", {"c2"}, {"f"}, {}},
              LayerSpec{"fullc", "fc1", {"f"}, {"h"}, {{"nhidden", "16"}}}};
  if (dropout) s.layers.push_back(LayerSpec{"dropout", "d", {"h"}, {"h"}, {{"threshold", "0.3"}}});
  s.layers.push_back(LayerSpec{"fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "4"}}});
  s.layers.push_back(LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}});
  return s;
}

nn::UpdaterSettings Settings() {
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  us.Set("wd", "0.0005");
  us.Set("lr:schedule", "expdecay");
  us.Set("lr:gamma", "0.8");
  return us;
}

struct Batches {
  std::vector<TensorContainer<gpu, 4>> x;
  std::vector<TensorContainer<gpu, 2>> y;
  explicit Batches(const Shape<4>& shape) {
    for (uint64_t k = 0; k < 2; ++k) {
      test::RandomBatch b(shape, k + 1, [k](index_t i) { return (uint64_t(i) + k) % 4; });
      x.push_back(std::move(b.x));
      y.push_back(std::move(b.y));
    }
  }
};

// Runs `steps` steps on both trainers, alternating the two buffers; losses must agree. The
// graph trainer's losses are also reduced on the device after each step (Net::LossTo, as a
// training run reads them a window at a time) and must be the host's.
void RunBoth(nn::Trainer<gpu>& graph, nn::Trainer<gpu>& plain, Batches& b, int steps, double tol) {
  TensorContainer<gpu, 1> slots(Shape1(steps));
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    const int k = s % 2;
    const double lg = graph.Step(b.x[k].view(), b.y[k].view());
    graph.net().LossTo(slots.view().Slice(s, s + 1));
    losses.push_back(lg);
    const double lp = plain.Step(b.x[k].view(), b.y[k].view());
    EXPECT_NEAR(lg, lp, tol * std::max(1.0, std::fabs(lp))) << "step " << s;
  }
  const TensorContainer<cpu, 1> read = test::ToCPU(slots.view());
  for (int s = 0; s < steps; ++s)
    EXPECT_NEAR(read.dptr_[s], losses[s], 1e-6 * std::max(1.0, std::fabs(losses[s]))) << "LossTo, step " << s;
}

TEST(GraphGPU, ReplaysMatchOrdinarySteps) {
  UMBRA_REQUIRE_GPU();
  nn::Trainer<gpu> graph(ConvNet(), Settings()), plain(ConvNet(), Settings());
  graph.set_cuda_graph(true);
  Batches b(ConvNet().input_shape);
  RunBoth(graph, plain, b, 9, 1e-5);
  EXPECT_TRUE(graph.cuda_graph()) << graph.graph_note();
  EXPECT_EQ(graph.num_graphs(), 2u);  // one per input buffer
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-5);
  // Test-mode passes after replays see the same moving statistics.
  graph.Predict(b.x[0].view());
  plain.Predict(b.x[0].view());
  EXPECT_TRUE(test::AllNear(test::ToCPU(graph.net().Output().data).view(),
                            test::ToCPU(plain.net().Output().data).view(), 1e-5));
}

// umbra's batch-norm kernels (algo=expr, its relu fused in): their partial sums' scratch is
// allocated in the first step and reused by the replays.
TEST(GraphGPU, OwnBatchNormKernelsInsideTheGraph) {
  UMBRA_REQUIRE_GPU();
  const nn::NetSpec spec = ConvNet("float32", false, "expr");
  nn::Trainer<gpu> graph(spec, Settings()), plain(spec, Settings());
  graph.set_cuda_graph(true);
  Batches b(spec.input_shape);
  RunBoth(graph, plain, b, 7, 1e-5);
  EXPECT_TRUE(graph.cuda_graph()) << graph.graph_note();
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-5);
}

// bf16 fullc too: the graph holds its forward's casts and a backward that takes them.
TEST(GraphGPU, Bf16ConvolutionsInsideTheGraph) {
  UMBRA_REQUIRE_GPU();
  nn::NetSpec spec = ConvNet("bf16");
  for (auto& l : spec.layers)
    if (l.type == "fullc") l.params.emplace_back("dtype", "bf16");
  nn::Trainer<gpu> graph(spec, Settings()), plain(spec, Settings());
  graph.set_cuda_graph(true);
  Batches b(spec.input_shape);
  // bf16 gradients: an fp32 difference of summation order (a cuDNN algorithm with atomics) can
  // cross a bf16 rounding step, 2^-8 relative on one element.
  RunBoth(graph, plain, b, 6, 1e-3);
  EXPECT_TRUE(graph.cuda_graph()) << graph.graph_note();
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-3);
}

// Gradients summed over two steps between updates (update_period = 2): replays accumulate into
// the weights' gradients like ordinary steps.
TEST(GraphGPU, UpdatePeriodTwo) {
  UMBRA_REQUIRE_GPU();
  nn::Trainer<gpu> graph(ConvNet(), Settings(), 2), plain(ConvNet(), Settings(), 2);
  graph.set_cuda_graph(true);
  Batches b(ConvNet().input_shape);
  RunBoth(graph, plain, b, 8, 1e-5);
  EXPECT_TRUE(graph.cuda_graph()) << graph.graph_note();
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-5);
}

// Blocks a graph's step freed during capture (cuDNN workspaces) stay the graph's: buffers
// allocated afterwards, of every size class, must come through replays untouched.
TEST(GraphGPU, ReplaysDoNotWriteIntoLaterAllocations) {
  UMBRA_REQUIRE_GPU();
  nn::Trainer<gpu> graph(ConvNet(), Settings());
  graph.set_cuda_graph(true);
  Batches b(ConvNet().input_shape);
  for (int s = 0; s < 3; ++s) graph.Step(b.x[0].view(), b.y[0].view());  // warm, capture, replay
  ASSERT_EQ(graph.num_graphs(), 1u) << graph.graph_note();
  std::vector<TensorContainer<gpu, 1>> later;
  for (index_t n = 64; n <= (index_t(1) << 24); n = n * 3 / 2) later.emplace_back(Shape1(n), 7.f);
  for (int s = 0; s < 3; ++s) graph.Step(b.x[0].view(), b.y[0].view());
  for (auto& t : later) {
    auto h = test::ToCPU(t.view());
    index_t bad = 0;
    for (index_t i = 0; i < h.Size(); ++i) bad += h.dptr_[i] != 7.f;
    EXPECT_EQ(bad, 0) << "a buffer of " << h.Size() << " floats was overwritten by a replay";
  }
}

// A graph holds no more memory than a plain step's peak: its pool starts with the warm-up
// step's largest transient block, which the captured step's workspaces take one after another
// (allocator.h). Three cuDNN convolutions of 16, 32 and 64 channels; in the emulation the
// stand-in's workspaces are eight times each one's larger operand in bytes
// (UMBRA_STUB_CUDNN_WS=8x: 1, 2 and 4 MiB), beyond the arena's gaps and growing through the
// forward, where a graph's pool held a block of each size before (emulated: 25.3 MiB above
// what was in use before the trainer for plain steps, 33.3 for the graph's; now 25.3 both).
TEST(GraphGPU, GraphsHoldNoMoreThanAPlainStep) {
  UMBRA_REQUIRE_GPU();
#if defined(UMBRA_CUDA_EMU)
  setenv("UMBRA_STUB_CUDNN_WS", "8x", 1);
#endif
  nn::NetSpec spec;
  spec.input_shape = Shape4(8, 3, 32, 32);
  spec.seed = 3;
  auto conv = [](const char* name, const char* in, const char* n) {
    return LayerSpec{"conv", name, {in}, {name}, {{"nchannel", n}, {"kernel_size", "3"}, {"pad", "1"}}};
  };
  spec.layers = {conv("a", "in", "16"), conv("b", "a", "32"), conv("c", "b", "64"),
                 LayerSpec{"flatten", "f", {"c"}, {"f"}, {}},
                 LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "4"}}},
                 LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  auto& alloc = cuda::CachingAllocator::Get();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  Batches b(spec.input_shape);
  size_t peak[2] = {0, 0};  // plain, graph: the high water above what was in use before
  // A first plain run makes what the process keeps from then on (the cuBLAS handle's 32 MiB
  // workspace), so that neither measured run counts it.
  for (int graphs : {0, 0, 1}) {
    UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
    alloc.EmptyCache();  // each trainer from the same start
    const size_t before = alloc.GetStats(dev).in_use;
    alloc.ResetHighWater(dev);
    {
      nn::Trainer<gpu> t(spec, Settings());
      t.set_cuda_graph(graphs == 1);
      for (int s = 0; s < 4; ++s) t.Step(b.x[0].view(), b.y[0].view());  // warm, capture, replays
      if (graphs) EXPECT_EQ(t.num_graphs(), 1u) << t.graph_note();
      UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
      peak[graphs] = alloc.GetStats(dev).high_water - before;
    }
  }
#if defined(UMBRA_CUDA_EMU)
  unsetenv("UMBRA_STUB_CUDNN_WS");
#endif
  EXPECT_GT(peak[0], 0u);
  EXPECT_LE(peak[1], peak[0]) << "plain " << peak[0] / 1048576.0 << " MiB, graph " << peak[1] / 1048576.0 << " MiB";
}

// A first step whose convolution workspaces did not fit their gaps plans them into the net's
// arena (Net::PlanScratch) before any graph is captured: the trainer runs a second ordinary step
// (the new plan's transients size the graph's pool), then captures one graph per buffer. Losses
// and weights as a net without an arena (share_memory off: nothing planned again), the first
// step's loss read after the new plan (carried over). In the emulation the stand-in's
// workspaces are 8 times each convolution's larger operand (beyond every gap of this net); c1's
// cap keys its search apart from the other tests' (the searches are kept per geometry).
TEST(GraphGPU, ScratchPlannedIntoTheArenaBeforeTheCapture) {
  UMBRA_REQUIRE_GPU();
#if defined(UMBRA_CUDA_EMU)
  setenv("UMBRA_STUB_CUDNN_WS", "8x", 1);
#endif
  nn::NetSpec spec = ConvNet();
  spec.layers[0].params.push_back({"cudnn_workspace", "1013"});
  nn::NetSpec unshared = spec;
  unshared.share_memory = false;
  nn::Trainer<gpu> graph(spec, Settings()), plain(unshared, Settings());
  graph.set_cuda_graph(true);
  Batches b(spec.input_shape);
  RunBoth(graph, plain, b, 7, 1e-5);
#if defined(UMBRA_CUDA_EMU)
  unsetenv("UMBRA_STUB_CUDNN_WS");
  EXPECT_EQ(graph.net().ArenaPlans(), 2);
#endif
  EXPECT_TRUE(graph.cuda_graph()) << graph.graph_note();
  EXPECT_EQ(graph.num_graphs(), 2u);
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-5);
}

// Dropout draws its masks from a counter in device memory (random.h): the replays draw new
// masks each step, the ones the plain trainer draws (same seed, same order), so the losses
// and weights stay the plain steps'. A replay that repeated its captured masks would differ
// from the second replay on.
TEST(GraphGPU, DropoutReplaysDrawTheMasksOfOrdinarySteps) {
  UMBRA_REQUIRE_GPU();
  nn::Trainer<gpu> graph(ConvNet("float32", true), Settings()), plain(ConvNet("float32", true), Settings());
  graph.set_cuda_graph(true);
  Batches b(ConvNet().input_shape);
  RunBoth(graph, plain, b, 7, 1e-6);
  EXPECT_TRUE(graph.cuda_graph()) << graph.graph_note();
  EXPECT_EQ(graph.num_graphs(), 2u);
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-6);
  // A new round reseeds both nets (the trainer's loop does, per round): the counter restarts
  // in stream order, and the replays follow it.
  graph.net().SeedRandom(11);
  plain.net().SeedRandom(11);
  RunBoth(graph, plain, b, 4, 1e-6);
  EXPECT_EQ(graph.num_graphs(), 2u);
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-6);
}

TEST(GraphGPU, TooManyBuffersFallBack) {
  UMBRA_REQUIRE_GPU();
  nn::Trainer<gpu> graph(ConvNet(), Settings()), plain(ConvNet(), Settings());
  graph.set_cuda_graph(true);
  Batches b(ConvNet().input_shape);
  // A fresh label buffer every step (all kept alive, so that none is handed out again at the
  // same address): graphs are captured up to the limit, then refused.
  std::vector<TensorContainer<gpu, 2>> labels;
  labels.reserve(nn::Trainer<gpu>::kMaxGraphs + 3);
  for (size_t s = 0; s < nn::Trainer<gpu>::kMaxGraphs + 3; ++s) {
    labels.emplace_back(b.y[0]);
    const TensorContainer<gpu, 2>& y = labels.back();
    const double lg = graph.Step(b.x[0].view(), y.view());
    const double lp = plain.Step(b.x[0].view(), y.view());
    EXPECT_NEAR(lg, lp, 1e-5 * std::max(1.0, std::fabs(lp))) << "step " << s;
  }
  EXPECT_FALSE(graph.cuda_graph());
  EXPECT_NE(graph.graph_note().find("buffers changed"), std::string::npos) << graph.graph_note();
  test::ExpectSameWeights(graph.net(), plain.net(), 1e-5);
}

TEST(GraphGPU, CapturePoolsKeepFreedBlocksPrivate) {
  UMBRA_REQUIRE_GPU();
  auto& alloc = cuda::CachingAllocator::Get();
  alloc.EmptyCache();  // no cached block of other tests competes for the requests below
  const size_t bytes = 3 << 20;
  void* before = alloc.Alloc(bytes);
  alloc.Free(before);  // cached: the next request of this size gets it back
  const int pool = alloc.BeginCapturePool();
  void* inside = alloc.Alloc(bytes);
  EXPECT_EQ(inside, before);
  alloc.Free(inside);                 // to the capture's own list...
  void* again = alloc.Alloc(bytes);   // ...which the same capture reuses
  EXPECT_EQ(again, inside);
  alloc.Free(again);
  alloc.EndCapturePool();
  void* outside = alloc.Alloc(bytes);  // the graph's block is not handed out
  EXPECT_NE(outside, inside);
  alloc.Free(outside);
  alloc.ReleaseCapturePool(pool);
  void* after = alloc.Alloc(bytes);  // released: back in the cache (one of the two blocks)
  EXPECT_TRUE(after == inside || after == outside);
  alloc.Free(after);
}

// Runs without a device too: the nets above are valid specs, and a cpu trainer refuses graphs.
TEST(GraphGPU, CpuNetsRefuseGraphs) {
  nn::Trainer<cpu> t(ConvNet(), Settings());
  EXPECT_THROW(t.set_cuda_graph(true), Error);
  EXPECT_NO_THROW(nn::Trainer<cpu>(ConvNet("bf16"), Settings()));
  nn::Trainer<cpu> d(ConvNet("float32", true), Settings());
  TensorContainer<cpu, 4> x(ConvNet().input_shape, 0.5f);
  TensorContainer<cpu, 2> y(Shape2(8, 1), 1.f);
  const uint64_t draws = d.net().RandomDraws();
  d.Step(x.view(), y.view());
  EXPECT_GT(d.net().RandomDraws(), draws);  // the cpu counts every draw; the gpu's uniform ones are graph-safe
}

}  // namespace
}  // namespace umbra
