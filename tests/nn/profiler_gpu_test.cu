// Trainer::Profile on the gpu: CUDA events between the layers give one row per layer, the
// parts add up to the step, each interval lands on the layer that ran in it, and profiled
// steps leave the same weights as plain ones; each row says how its layer ran.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

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

// Each row says how its layer ran (Layer::Implementation, the profile's "how" column): the
// cuDNN algorithm each convolution pass ran, with its time in the search and its workspace (no
// backward-data for the net's first layer, which has no input gradient), batch norm on umbra's
// kernels with the relu fused, or on cuDNN's (algo = cudnn), max pooling on umbra's kernels.
// In the emulation the stand-in's search answers two algorithms, the first 1% faster with a 64
// MiB workspace, which no pass of this net has free: the pick is the second, and the row names
// the first as the fastest.
TEST(ProfilerGPU, RowsSayHowEachLayerRan) {
  UMBRA_REQUIRE_GPU();
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(2, 3, 9, 9);  // a geometry of its own: the searches are per process
  const std::vector<std::pair<std::string, std::string>> k3 = {{"kernel_size", "3"}, {"pad", "1"}};
  auto conv = [&](const char* name, const char* in, const char* out, const char* n) {
    LayerSpec l{"conv", name, {in}, {out}, k3};
    l.params.push_back({"nchannel", n});
    return l;
  };
  s.layers = {conv("c1", "in", "c1", "64"),
              LayerSpec{"batch_norm", "bn1", {"c1"}, {"b1"}, {}},
              LayerSpec{"relu", "r1", {"b1"}, {"b1"}, {}},
              LayerSpec{"max_pooling", "pool", {"b1"}, {"p1"}, {{"kernel_size", "3"}, {"stride", "2"}}},
              conv("c2", "p1", "c2", "130"),
              LayerSpec{"batch_norm", "bn2", {"c2"}, {"b2"}, {{"algo", "cudnn"}}},
              LayerSpec{"flatten", "f", {"b2"}, {"f"}, {}},
              LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
#if defined(UMBRA_CUDA_EMU)
  // Times no run of umbra's own weight-gradient candidate can beat (wgrad_gemm.h): the text
  // below is the stand-in's alone.
  setenv("UMBRA_STUB_CUDNN_WS", "67108864,0", 1);
  setenv("UMBRA_STUB_CUDNN_MS", "0.001", 1);
#endif
  nn::Trainer<gpu> t(s, test::SgdMomentum());
  const test::RandomBatch b(s.input_shape, 3, [](index_t i) { return i % 3; });
  const nn::StepProfile p = t.Profile(b.x.view(), b.y.view(), 1);
#if defined(UMBRA_CUDA_EMU)
  unsetenv("UMBRA_STUB_CUDNN_WS");
  unsetenv("UMBRA_STUB_CUDNN_MS");
#endif
  std::map<std::string, std::string> how;
  for (auto& l : p.layers) how[l.name] = l.how;
  ASSERT_EQ(how.count("r1"), 0u) << "the relu is fused into bn1";
  // cuDNN's algorithms by name, umbra's weight-gradient GEMM by its chunk.
  const std::string pass =
      R"((fwd|dgrad|wgrad) ([a-z_0-9]+|umbra_gemm\([0-9]+ images\)) (tensor|fma|tf32|fp32) [0-9]+\.[0-9]{3} ms )"
      R"([0-9]+\.[0-9] MiB)";
  const std::string each = pass + R"(( \(fastest )" + pass + R"(\))?)";
  const std::regex first("cuDNN (fwd .*), (wgrad .*)"), second("cuDNN (fwd .*), (dgrad .*), (wgrad .*)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(how["c1"], m, first)) << how["c1"];
  for (size_t i = 1; i < m.size(); ++i) EXPECT_TRUE(std::regex_match(m[i].str(), std::regex(each))) << m[i];
  ASSERT_TRUE(std::regex_match(how["c2"], m, second)) << how["c2"];
  for (size_t i = 1; i < m.size(); ++i) EXPECT_TRUE(std::regex_match(m[i].str(), std::regex(each))) << m[i];
#if defined(UMBRA_CUDA_EMU)
  EXPECT_EQ(how["c2"],
            "cuDNN fwd implicit_precomp_gemm tensor 0.001 ms 0.0 MiB (fastest fwd implicit_gemm tensor 0.001 ms "
            "64.0 MiB), dgrad algo_1 tensor 0.001 ms 0.0 MiB (fastest dgrad algo_0 tensor 0.001 ms 64.0 MiB), "
            "wgrad algo_1 tensor 0.001 ms 0.0 MiB (fastest wgrad algo_0 tensor 0.001 ms 64.0 MiB)");
#endif
  EXPECT_EQ(how["bn1"], "umbra kernels; relu fused");
  EXPECT_EQ(how["bn2"], "cuDNN");
  EXPECT_EQ(how["pool"], "umbra kernels, winners kept");
  EXPECT_EQ(how["fc"], "");
}

}  // namespace
}  // namespace umbra
