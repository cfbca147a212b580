// cuDNN's pooling, batch norm, activations and softmax (algo = cudnn where a layer takes it, the
// default auto elsewhere) against umbra's own kernels for them (algo = expr on every layer that
// takes it, nn::SetKeyWhereTaken) in whole training steps with
// the memory planner on: the same losses, weights and test-mode outputs, within summation-order
// tolerance. Convolutions are cuDNN's in both nets (their algo takes other values), so the two
// differ only where the layer tests (layers_gpu_test.cu) compare one layer at a time.
#include <gtest/gtest.h>

#include "harness/gpu_compare.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

using nn::LayerSpec;

nn::NetSpec Net() {
  nn::NetSpec s;
  s.input_shape = Shape4(8, 3, 12, 12);
  s.seed = 9;
  s.layers = {LayerSpec{"conv", "c1", {"in"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}}},
              LayerSpec{"batch_norm", "bn1", {"c1"}, {"b1"}, {}},
              LayerSpec{"relu", "r1", {"b1"}, {"b1"}, {}},
              LayerSpec{"max_pooling", "p1", {"b1"}, {"p1"}, {{"kernel_size", "2"}, {"stride", "2"}}},
              LayerSpec{"split", "s", {"p1"}, {"s1", "s2"}, {}},
              LayerSpec{"conv", "c2", {"s1"}, {"c2"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}}},
              LayerSpec{"sigmoid", "sg", {"c2"}, {"c2"}, {}},
              LayerSpec{"eltwise_sum", "sum", {"c2", "s2"}, {"sum"}, {}},
              LayerSpec{"avg_pooling", "p2", {"sum"}, {"p2"}, {{"kernel_size", "2"}, {"stride", "2"}}},
              LayerSpec{"global_max_pooling", "g", {"p2"}, {"g"}, {}},
              LayerSpec{"flatten", "f", {"g"}, {"f"}, {}},
              LayerSpec{"fullc", "fc1", {"f"}, {"h"}, {{"nhidden", "16"}}},
              LayerSpec{"tanh", "th", {"h"}, {"h"}, {}},
              LayerSpec{"fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "4"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  return s;
}

TEST(OwnKernelsGPU, SameTrainingAsCudnn) {
  UMBRA_REQUIRE_GPU();
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  nn::NetSpec own_spec = Net(), lib_spec = Net();
  EXPECT_EQ(nn::SetKeyWhereTaken<gpu>(own_spec, "algo", "expr").size(), 8u);
  // batch norm (8 channels: umbra's by default), max and avg pooling (max: umbra's by default)
  EXPECT_EQ(nn::SetKeyWhereTaken<gpu>(lib_spec, "algo", "cudnn").size(), 3u);
  nn::Trainer<gpu> lib(lib_spec, us), own(own_spec, us);
  const test::RandomBatch batch(Net().input_shape, 3, [](index_t i) { return i % 4; });
  const Tensor<gpu, 4>& x = batch.x.view();
  for (int s = 0; s < 6; ++s) {
    const double a = lib.Step(x, batch.y.view()), b = own.Step(x, batch.y.view());
    EXPECT_NEAR(a, b, 1e-4 * std::max(1.0, std::fabs(a))) << "step " << s;
  }
  test::ExpectSameWeights(lib.net(), own.net(), 1e-3);
  lib.Predict(x);
  own.Predict(x);
  EXPECT_TRUE(test::AllNear(test::ToCPU(lib.net().Output().data).view(), test::ToCPU(own.net().Output().data).view(),
                            1e-3));
}

}  // namespace
}  // namespace umbra
