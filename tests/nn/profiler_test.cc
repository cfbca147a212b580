// Trainer::Profile: one row per layer in forward order with its own forward and backward time,
// the parts adding up to the step, and profiled steps being ordinary steps (the same weights
// after them, the marks detached afterwards, also after a step that throws), and each row saying
// how its layer ran.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>

#include "harness/tiny_net.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

TEST(Profiler, OneRowPerLayerAndThePartsMakeTheStep) {
  nn::Trainer<cpu> t(test::TinySpec(5, true), test::SgdMomentum());
  test::TinyBatch b(1);
  const nn::StepProfile p = t.Profile(b.x.view(), b.y.view(), 3);
  ASSERT_EQ(p.layers.size(), t.net().NumLayers());
  const char* names[] = {"fc1", "bn", "t", "fc2", "loss"};
  const char* types[] = {"fullc", "batch_norm", "tanh", "fullc", "softmax"};
  double parts = p.update_ms;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    EXPECT_EQ(p.layers[i].name, names[i]);
    EXPECT_EQ(p.layers[i].type, types[i]);
    EXPECT_GE(p.layers[i].fwd_ms, 0);
    EXPECT_GE(p.layers[i].bwd_ms, 0);
    parts += p.layers[i].fwd_ms + p.layers[i].bwd_ms;
  }
  EXPECT_EQ(p.steps, 3);
  EXPECT_GT(p.device_ms, 0);
  EXPECT_LE(parts, p.device_ms * (1 + 1e-9));  // the rest is the input copy
  EXPECT_GE(p.wall_ms, p.device_ms * (1 - 1e-9));
  // fc1: 4x6 inputs + 4x5 outputs + 6x5 weights + 5 biases, float.
  EXPECT_EQ(p.layers[0].fwd_bytes, (24 + 20 + 30 + 5) * 4.0);
  EXPECT_EQ(p.layers[0].bwd_bytes, (2 * 24 + 20 + 2 * 35) * 4.0);
}

// The time lands on the layer that took it: a 2000x2000 fullc (16M multiply-adds each way)
// against tanh over the same 4x2000 values (8000 elementwise operations) must come out dearer
// by a wide margin (measured here: 7x or more forward, 100x backward; asserted: 2x and 3x), so
// that marks misattributed by one layer, which would put the product's time on tanh, fail.
TEST(Profiler, TimeLandsOnTheLayerThatTookIt) {
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(4, 1, 1, 6);
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"h"}, {{"nhidden", "2000"}}},
              LayerSpec{"tanh", "t1", {"h"}, {"h"}, {}},
              LayerSpec{"fullc", "big", {"h"}, {"g"}, {{"nhidden", "2000"}}},
              LayerSpec{"tanh", "t2", {"g"}, {"g"}, {}},
              LayerSpec{"fullc", "fc3", {"g"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  nn::Trainer<cpu> t(s, test::SgdMomentum());
  test::TinyBatch b(2);
  const nn::StepProfile p = t.Profile(b.x.view(), b.y.view(), 10);
  EXPECT_GT(p.layers[2].fwd_ms, 2 * p.layers[3].fwd_ms);
  EXPECT_GT(p.layers[2].bwd_ms, 3 * p.layers[3].bwd_ms);
  EXPECT_GT(p.layers[2].bwd_ms, 3 * p.layers[1].bwd_ms);
}

TEST(Profiler, ProfiledStepsAreOrdinarySteps) {
  nn::Trainer<cpu> a(test::TinySpec(), test::SgdMomentum()), b(test::TinySpec(), test::SgdMomentum());
  for (uint64_t k = 0; k < 3; ++k) {
    test::TinyBatch batch(k);
    a.Profile(batch.x.view(), batch.y.view(), 2);
    b.Train(batch.x.view(), batch.y.view());
    b.Train(batch.x.view(), batch.y.view());
  }
  test::TinyBatch last(7);
  EXPECT_DOUBLE_EQ(a.Step(last.x.view(), last.y.view()), b.Step(last.x.view(), last.y.view()));
  EXPECT_EQ(a.updates(), b.updates());
  std::vector<float> wa, wb;
  a.net().VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2>) { wa.insert(wa.end(), w.dptr_, w.dptr_ + w.Size()); });
  b.net().VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2>) { wb.insert(wb.end(), w.dptr_, w.dptr_ + w.Size()); });
  EXPECT_EQ(wa, wb);
}

TEST(Profiler, AStepThatThrowsLeavesNoMarksBehind) {
  nn::Trainer<cpu> t(test::TinySpec(), test::SgdMomentum());
  test::TinyBatch b(1);
  TensorContainer<cpu, 4> wrong(Shape4(4, 1, 1, 7));
  EXPECT_THROW(t.Profile(wrong.view(), b.y.view(), 2), Error);
  EXPECT_THROW(t.Profile(b.x.view(), b.y.view(), 0), Error);
  // The marks object of the failed call is gone; a plain step must not touch it.
  EXPECT_NO_THROW(t.Step(b.x.view(), b.y.view()));
  EXPECT_EQ(t.Profile(b.x.view(), b.y.view(), 1).steps, 1);
}

// Each row says how its layer ran (Layer::Implementation): the reference convolution (algo =
// im2col) with the relu after it fused, oneDNN's with the kernel of each pass where umbra has
// it (im2col otherwise), the expressions for batch norm and pooling, nothing for fullc.
TEST(Profiler, RowsSayHowEachLayerRan) {
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(2, 2, 6, 6);
  s.layers = {LayerSpec{"conv", "c1", {"in"}, {"c1"}, {{"nchannel", "4"}, {"kernel_size", "3"}, {"algo", "im2col"}}},
              LayerSpec{"relu", "r1", {"c1"}, {"c1"}, {}},
              LayerSpec{"conv", "c2", {"c1"}, {"c2"}, {{"nchannel", "4"}, {"kernel_size", "3"}}},
              LayerSpec{"batch_norm", "bn", {"c2"}, {"b"}, {}},
              LayerSpec{"max_pooling", "pool", {"b"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}}},
              LayerSpec{"flatten", "f", {"p"}, {"f"}, {}},
              LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"y"}, {}}};
  nn::Trainer<cpu> t(s, test::SgdMomentum());
  TensorContainer<cpu, 4> x(s.input_shape);
  Random<cpu>(3).SampleUniform(&x);
  TensorContainer<cpu, 2> y(Shape2(2, 1));
  y.dptr_[0] = 0, y.dptr_[1] = 2;
  std::map<std::string, std::string> how;
  for (auto& l : t.Profile(x.view(), y.view(), 1).layers) how[l.name] = l.how;
  EXPECT_EQ(how.count("r1"), 0u) << "the relu is fused into c1";
  EXPECT_EQ(how["c1"], "im2col + GEMM; relu fused");
  if (how["c2"] != "im2col + GEMM")  // without oneDNN
    EXPECT_TRUE(std::regex_match(how["c2"], std::regex("oneDNN fwd [^,]+, dgrad [^,]+, wgrad [^,]+"))) << how["c2"];
  EXPECT_EQ(how["bn"], "expressions");
  EXPECT_EQ(how["pool"], "expressions");
  EXPECT_EQ(how["fc"], "");
}

}  // namespace
}  // namespace umbra
