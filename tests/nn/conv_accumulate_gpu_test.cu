// Convolution weight gradients accumulate (+=) across backward passes on the gpu as on the cpu:
// cuDNN adds into the layer's gradients in fp32 (beta = 1; its algorithm search writes a scratch
// output, not the gradients), the bf16 path adds as it converts back, and channels-last
// (NHWC filters in scratch) as it moves the gradient back. Two forward/backward passes without
// an update must give twice one pass's gradients, as on the cpu.
#include <gtest/gtest.h>

#include "harness/gpu_compare.h"
#include "umbra/nn/net.h"

namespace umbra {
namespace {

using nn::LayerSpec;

void TwoPasses(const std::string& dtype, bool nhwc, double tol) {
  SCOPED_TRACE(dtype + (nhwc ? " nhwc" : " nchw"));
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 9, 9);
  s.seed = 11;
  s.layers = {LayerSpec{"conv", "c", {"in"}, {"c"}, {{"nchannel", "5"}, {"kernel_size", "3"}, {"stride", "2"},
                                                     {"tf32", "0"}, {"dtype", dtype}}},
              LayerSpec{"flatten", "f", {"c"}, {"f"}, {}},
              LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  nn::Net<cpu> hc(s);
  s.channels_last = nhwc;
  nn::Net<gpu> gc(s);  // the same initial weights: drawn on the host for every device
  const test::RandomBatch b(s.input_shape, 2, [](index_t i) { return i % 3; });
  test::PassesOnBoth(hc, gc, b, 2);
  const auto want = test::Gradients(hc), got = test::Gradients(gc);
  ASSERT_EQ(want.size(), got.size());
  // Relative to the whole gradient: the values are small (0.02-0.05), where a per-element
  // bound of tol * max(1, |x|) would let one pass where two are due (half the sum) through.
  for (size_t k = 0; k < want.size(); ++k)
    EXPECT_TRUE(test::NormNear(got[k].view(), want[k].view(), tol)) << "gradient " << k;
}

TEST(ConvAccumulateGPU, TwoBackwardPassesAddUp) {
  UMBRA_REQUIRE_GPU();
  for (bool nhwc : {false, true}) {
    TwoPasses("float32", nhwc, 2e-4);
    TwoPasses("bf16", nhwc, 1e-2);
  }
}

}  // namespace
}  // namespace umbra
