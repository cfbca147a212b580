// cuDNN's engine configurations (cudnn/conv_engines.h) as candidates of the convolutions'
// searches: with cudnn_search = engines every pass runs one, and two passes of a small net give
// the CPU net's gradients in fp32 (tf32=0: a TF32 engine would miss the bound), channels-last
// with TF32, and with bf16 operands in both layouts; cudnn_search = legacy runs none. In the
// emulation (UMBRA_STUB_CUDNN_ENGINES: the stand-in's heuristics offer engines 0-3, 1 on tensor
// cores, 2 converting inputs down as well and 3 compiled at run time) the calls are counted too:
// 2 and 3 never run, not even in the search, and with tf32=0 only engine 0 (FMA) does; with
// every candidate in the search, each pass takes an engine where the legacy algorithms report
// slower; with no room for any engine's workspace, one error that names the key. And every FMA
// plan offered for a small forward convolution, called directly, against a double reference
// (on a GPU, every such engine of the real library), its kept variant pack following y's move.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "harness/conv_reference.h"
#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "umbra/nn/net.h"
#if defined(UMBRA_CUDA_EMU)
#include "../cuda_stub/stub.h"  // ConvCallsWithAlgo
#endif
#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
#include "cudnn/conv_engines.h"
#include "cudnn/cudnn_util.h"
#endif

namespace umbra {
namespace conv_engines_test {

using test::L;
using KV = std::vector<std::pair<std::string, std::string>>;

// conv -> relu -> grouped conv -> flatten -> fullc -> softmax, the convolutions' keys as given.
nn::NetSpec Spec(const Shape<4>& in, bool nhwc, const KV& keys) {
  nn::NetSpec s;
  s.input_shape = in;  // a geometry of its own per test: searches are kept per process
  s.seed = 5;
  s.channels_last = nhwc;
  auto conv = [&](KV p) {
    for (const auto& kv : keys) p.push_back(kv);
    return p;
  };
  s.layers = {L("conv", "c1", {"in"}, {"c1"},
                conv({{"nchannel", "6"}, {"kernel_size", "3"}, {"stride", "2"}, {"pad", "1"}})),
              L("relu", "r1", {"c1"}, {"c1"}),
              L("conv", "c2", {"c1"}, {"c2"}, conv({{"nchannel", "4"}, {"kernel_size", "3"}, {"ngroup", "2"}})),
              L("flatten", "f", {"c2"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}),
              L("softmax", "loss", {"o"}, {"p"})};
  return s;
}

// Two passes on both devices; the convolutions' weight gradients within `tol` of the CPU's (the
// engines' work; the biases' gradients are cuDNN's legacy reduction, and the second one's nearly
// cancels: rounding noise), and what each convolution's passes ran.
std::vector<std::string> TrainAndCompare(const nn::NetSpec& s, double tol) {
  nn::Net<cpu> hc(s);
  nn::Net<gpu> gc(s);
  const test::RandomBatch b(s.input_shape, 3, [](index_t i) { return i % 3; });
  test::PassesOnBoth(hc, gc, b, 2);
  const auto want = test::Gradients(hc), got = test::Gradients(gc);
  EXPECT_EQ(got.size(), want.size());
  for (size_t k = 0; k < 4 && k < got.size(); k += 2)
    EXPECT_TRUE(test::NormNear(got[k].view(), want[k].view(), tol)) << "gradient " << k;
  std::vector<std::string> how;
  for (size_t l = 0; l < gc.NumLayers(); ++l)
    if (std::string(gc.LayerAt(l).Type()) == "conv") how.push_back(gc.LayerAt(l).Implementation());
  return how;
}

// Engines offered by the stand-ins (the emulation's, and the one gpu_host_paths.sh preloads);
// a real cuDNN offers its own and reads no such variable.
struct Offered {
  Offered() { setenv("UMBRA_STUB_CUDNN_ENGINES", "4", 1); }
  ~Offered() { unsetenv("UMBRA_STUB_CUDNN_ENGINES"); }
};

bool Ran(const std::string& how, const std::string& pass) { return how.find(pass + " engine ") != std::string::npos; }
// Every pass of Spec's two convolutions on an engine (the first one has no data gradient).
void ExpectEachPassOnAnEngine(const std::vector<std::string>& how) {
  ASSERT_EQ(how.size(), 2u);
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_TRUE(Ran(how[l], "fwd") && Ran(how[l], "wgrad")) << how[l];
    EXPECT_EQ(Ran(how[l], "dgrad"), l == 1) << how[l];
  }
}
#if defined(UMBRA_CUDA_EMU)
// The stand-in's engine `ran` has run (in the search or after it), engines 2 and 3 never.
void ExpectOnlyAllowedEnginesRan(int ran) {
  EXPECT_GT(umbra_stub::ConvCallsWithAlgo(1000 + ran), 0);
  EXPECT_EQ(umbra_stub::ConvCallsWithAlgo(1002), 0);
  EXPECT_EQ(umbra_stub::ConvCallsWithAlgo(1003), 0);
}
#endif

TEST(ConvEnginesGPU, EachPassRunsAnEngineAsTheCpuInFp32) {
  UMBRA_REQUIRE_GPU();
  const Offered offered;
  const auto how = TrainAndCompare(
      Spec(Shape4(3, 4, 11, 9), false, {{"cudnn_search", "engines"}, {"tf32", "0"}}), 2e-4);
  ExpectEachPassOnAnEngine(how);
#if defined(UMBRA_CUDA_EMU)
  // Only the FMA engine: 1 is TF32, 2 converts down, 3 compiles at run time.
  for (const std::string& h : how) {
    EXPECT_NE(h.find("fwd engine 0 fma"), std::string::npos) << h;
    EXPECT_EQ(h.find("engine 1"), std::string::npos) << h;
  }
  ExpectOnlyAllowedEnginesRan(0);
#endif
}

TEST(ConvEnginesGPU, ChannelsLastWithTf32AndBf16OperandsAsTheCpu) {
  UMBRA_REQUIRE_GPU();
  const Offered offered;
  // fp32 channels-last, bf16 in the plain layout, bf16 channels-last.
  for (const auto& [nhwc, bf16] : {std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
    SCOPED_TRACE(std::string(nhwc ? "nhwc" : "nchw") + (bf16 ? " bf16" : " fp32"));
    KV keys{{"cudnn_search", "engines"}};
    if (bf16) keys.push_back({"dtype", "bf16"});
    // TF32 keeps 10 mantissa bits, bf16 7: bounds as the other channels-last and bf16 tests'.
    ExpectEachPassOnAnEngine(TrainAndCompare(Spec(Shape4(3, 4, 10, 13), nhwc, keys), bf16 ? 3e-2 : 5e-3));
  }
#if defined(UMBRA_CUDA_EMU)
  // With TF32 allowed, only the notes keep engines 2 and 3 out: not run, not even in the search.
  ExpectOnlyAllowedEnginesRan(1);
#endif
}

// cudnn_search = legacy times and runs no engine, offered or not.
TEST(ConvEnginesGPU, TheLegacySearchRunsNoEngine) {
  UMBRA_REQUIRE_GPU();
  const Offered offered;
#if defined(UMBRA_CUDA_EMU)
  const long before = umbra_stub::ConvCallsWithAlgo(1000) + umbra_stub::ConvCallsWithAlgo(1001);
#endif
  const auto how =
      TrainAndCompare(Spec(Shape4(2, 4, 9, 11), false, {{"cudnn_search", "legacy"}, {"tf32", "0"}}), 2e-4);
  for (const std::string& h : how) EXPECT_EQ(h.find("engine"), std::string::npos) << h;
#if defined(UMBRA_CUDA_EMU)
  EXPECT_EQ(umbra_stub::ConvCallsWithAlgo(1000) + umbra_stub::ConvCallsWithAlgo(1001), before);
#endif
}

#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
// Every FMA plan cuDNN offers for a small strided, padded forward convolution, run into one
// output and then, with the same kept pack, into another (the pack must follow y's move): both
// as a double reference. On a GPU that is every such engine of the real library. And none
// where the filter leaves no time to finalize one.
TEST(ConvEnginesGPU, EveryOfferedPlanComputesTheConvolution) {
  UMBRA_REQUIRE_GPU();
  const Offered offered;
  const nn::EngineConv ec{{2, 3, 7, 6, 4, 4, 3, 1, 3, 3, 2, 2, 1, 1}, CUDNN_DATA_FLOAT, false};
  const nn::ConvGemmGeom& c = ec.g;
  const auto hx = test::RandomTensor<4, float>(Shape4(c.n, c.c, c.h, c.w), 11);
  const auto hw = test::RandomTensor<4, float>(Shape4(c.oc, c.c, c.kh, c.kw), 12);
  const std::vector<double> want =
      test::ConvForwardReference(c, std::vector<float>(hx.dptr_, hx.dptr_ + hx.shape_.Size()),
                                 std::vector<float>(hw.dptr_, hw.dptr_ + hw.shape_.Size()));
  auto x = test::ToGPU(hx.view());
  auto w = test::ToGPU(hw.view());
  cudnnHandle_t h = nn::CudnnHandle(nullptr);
  const auto plans = nn::EnginePlans(h, ec, nn::ConvPass::kForward, 0, {.tf32 = false, .max_workspace = 64 << 20});
  ASSERT_FALSE(plans.empty()) << "cuDNN offered no FMA plan for a 3x3 forward convolution";
  for (const auto& p : plans) {
    SCOPED_TRACE("engine " + std::to_string(p->engine()));
    TensorContainer<gpu, 1> ws(Shape1(index_t(p->workspace() / sizeof(float) + 1)));
    TensorContainer<gpu, 4> y1(Shape4(c.n, c.oc, c.oh, c.ow), std::nanf("")),
        y2(Shape4(c.n, c.oc, c.oh, c.ow), std::nanf(""));
    nn::EnginePack pack;
    p->Run(h, x.dptr_, w.dptr_, y1.dptr_, ws.dptr_, &pack);
    p->Run(h, x.dptr_, w.dptr_, y2.dptr_, ws.dptr_, &pack);
    for (const auto* y : {&y1, &y2}) {
      const auto got = test::ToCPU(y->view());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got.dptr_[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << "output " << (y == &y1 ? 1 : 2)
                                                                             << ", element " << i;
    }
  }
  // No time left for finalizing: no plan (the search keeps its other candidates).
  EXPECT_TRUE(nn::EnginePlans(h, ec, nn::ConvPass::kForward, 0,
                              {.tf32 = false, .max_workspace = 64 << 20, .max_seconds = 0})
                  .empty());
}
#endif

#if defined(UMBRA_CUDA_EMU)
// Every candidate in the search (the default), channels-last so that umbra's GEMMs (fp32 NCHW
// only) are not among them: every pass takes an engine where the legacy algorithms report 10 s.
TEST(ConvEnginesGPU, TheDefaultSearchTakesAnEngineWhereItIsFaster) {
  const Offered offered;
  setenv("UMBRA_STUB_CUDNN_MS", "10000", 1);
  const auto how = TrainAndCompare(Spec(Shape4(2, 4, 9, 9), true, {{"tf32", "0"}}), 2e-4);
  unsetenv("UMBRA_STUB_CUDNN_MS");
  ExpectEachPassOnAnEngine(how);
}

// No room for any engine's workspace: one error naming the key, not a crash.
TEST(ConvEnginesGPU, NoEngineWithinTheCapIsOneError) {
  const Offered offered;
  const nn::NetSpec s = Spec(Shape4(2, 4, 8, 8), false, {{"cudnn_search", "engines"}, {"cudnn_workspace", "0"}});
  nn::Net<gpu> gc(s);
  const test::RandomBatch b(s.input_shape, 3, [](index_t i) { return i % 3; });
  try {
    gc.Forward(true, b.x.view(), &b.y.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cuDNN found no forward algorithm (engine configurations alone: cudnn_search = engines) "
                     "within the workspace cap of 0 MiB"),
              std::string::npos)
        << m;
  }
}
#endif

}  // namespace conv_engines_test
}  // namespace umbra
