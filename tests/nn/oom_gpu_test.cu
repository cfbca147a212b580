// A net that does not fit on the device: building its trainer is one clear error naming the
// device and the sizes (the caching allocator's), never a crash, and the device stays usable:
// a net that fits trains right after.
#include <gtest/gtest.h>

#include "harness/gpu_compare.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

nn::NetSpec Mlp(index_t batch, index_t hidden) {
  nn::NetSpec s;
  s.input_shape = Shape4(batch, 1, 1, 8);
  s.layers = {nn::LayerSpec{"fullc", "fc1", {"in"}, {"h"}, {{"nhidden", std::to_string(hidden)}}},
              nn::LayerSpec{"relu", "r", {"h"}, {"h"}, {}},
              nn::LayerSpec{"fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "3"}}},
              nn::LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  return s;
}

TEST(OomGPU, TooBigANetIsAClearError) {
  UMBRA_REQUIRE_GPU();
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  // 2^20 samples x 2^18 hidden floats: 1 TiB of node values, weights of 8 MiB.
  std::string msg;
  try {
    nn::Trainer<gpu> t(Mlp(index_t(1) << 20, index_t(1) << 18), us);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("out of GPU memory on device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("asked for"), std::string::npos) << msg;
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  nn::Trainer<gpu> small(Mlp(4, 16), us);
  TensorContainer<cpu, 4> hx(Shape4(4, 1, 1, 8), 0.5f);
  TensorContainer<cpu, 2> hy(Shape2(4, 1), 1.f);
  auto x = test::ToGPU(hx.view());
  auto y = test::ToGPU(hy.view());
  const double first = small.Step(x.view(), y.view());
  double last = first;
  for (int s = 0; s < 20; ++s) last = small.Step(x.view(), y.view());
  EXPECT_LT(last, first);
}

}  // namespace
}  // namespace umbra
