// Which layers pass a gradient to their inputs (Net::DecideGradients): none where no weight
// reaches the inputs (net inputs, and what weightless layers make of them alone), every one
// downstream of a weight; the weights' gradients stay what they were, and gradients nobody
// computes take no storage.
#include <algorithm>

#include "harness/tiny_net.h"
#include "umbra/nn/net.h"

namespace umbra {
namespace {
using nn::LayerSpec;

// in -> flatten -> [sigmoid] -> fullc -> sigmoid -> fullc -> softmax, a buffer per gradient.
nn::NetSpec WeightlessFront(bool sigmoid_first) {
  nn::NetSpec s = test::SmallSpec(3);
  s.share_memory = false;
  s.layers[0].in = {"f"};
  std::vector<LayerSpec> front = {LayerSpec{"flatten", "flat", {"in"}, {"f"}, {}}};
  if (sigmoid_first) front.push_back(LayerSpec{"sigmoid", "s0", {"f"}, {"f"}, {}});
  s.layers.insert(s.layers.begin(), front.begin(), front.end());
  return s;
}

std::vector<TensorContainer<cpu, 2, double>> TrainOnce(nn::Net<cpu, double>& net) {
  const test::SmallBatch b;
  net.Forward(true, b.x.view(), &b.y.view());
  net.Backward();
  std::vector<TensorContainer<cpu, 2, double>> g;
  net.VisitWeights([&](const std::string&, Tensor<cpu, 2, double>, Tensor<cpu, 2, double> d) { g.emplace_back(d); });
  return g;
}

TEST(NetGradients, NoneForWhatNoWeightReaches) {
  constexpr double kSentinel = 4321.0;
  for (bool sigmoid_first : {false, true}) {
    SCOPED_TRACE(sigmoid_first ? "flatten, sigmoid" : "flatten");
    nn::NetSpec front = WeightlessFront(sigmoid_first);
    nn::Net<cpu, double> net(front);
    const Tensor<cpu, 4, double> gf = net.NodeByName("f").grad;
    std::fill(gf.dptr_, gf.dptr_ + gf.Size(), kSentinel);
    const auto with = TrainOnce(net);
    // fc1 computed no gradient for its input: nothing upstream has weights.
    EXPECT_EQ(std::count(gf.dptr_, gf.dptr_ + gf.Size(), kSentinel), index_t(gf.Size()));
    // fc1 and fc2's weights get the gradients of the same net computed with every input
    // gradient (a plain net's fc1 reads the input itself; the sigmoid applied to it by hand).
    nn::NetSpec ref = test::SmallSpec(3);
    ref.share_memory = false;
    if (sigmoid_first) ref.layers.insert(ref.layers.begin(), LayerSpec{"sigmoid", "s0", {"in"}, {"in'"}, {}});
    if (sigmoid_first) ref.layers[1].in = {"in'"};
    nn::Net<cpu, double> plain(ref);
    const auto want = TrainOnce(plain);
    ASSERT_EQ(with.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      const double* a = with[k].dptr_;
      EXPECT_TRUE(std::equal(a, a + with[k].Size(), want[k].dptr_)) << "weight gradient " << k;
    }
  }
}

// In a planned net (shared arena) what no backward reads or writes gets no gradient storage:
// the net input and the flatten of it, whose gradients nobody computes, while the node after
// fc1 has one; the weights' gradients are those of the plain layout.
TEST(NetGradients, NoStorageForGradientsNobodyComputes) {
  for (bool sigmoid_first : {false, true}) {
    SCOPED_TRACE(sigmoid_first ? "flatten, sigmoid" : "flatten");
    nn::NetSpec front = WeightlessFront(sigmoid_first);
    nn::Net<cpu, double> plain(front);
    front.share_memory = true;
    nn::Net<cpu, double> planned(front);
    EXPECT_EQ(planned.NodeByName("in").grad.dptr_, nullptr);
    EXPECT_EQ(planned.NodeByName("f").grad.dptr_, nullptr);
    EXPECT_NE(planned.NodeByName("h").grad.dptr_, nullptr);
    const auto with = TrainOnce(planned), want = TrainOnce(plain);
    ASSERT_EQ(with.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      const double* a = with[k].dptr_;
      EXPECT_TRUE(std::equal(a, a + with[k].Size(), want[k].dptr_)) << "weight gradient " << k;
    }
  }
}

// Downstream of a weight every layer passes its gradient on, weightless ones included: a
// sigmoid between two fullc layers hands fc1 the gradient it needs (the case above checks the
// values); here the node between them holds one, not the sentinel.
TEST(NetGradients, EveryLayerAfterAWeightPassesItOn) {
  nn::NetSpec s = test::SmallSpec(3);
  s.share_memory = false;
  nn::Net<cpu, double> net(s);
  const Tensor<cpu, 4, double> gh = net.NodeByName("h").grad;
  std::fill(gh.dptr_, gh.dptr_ + gh.Size(), 4321.0);
  TrainOnce(net);
  EXPECT_EQ(std::count(gh.dptr_, gh.dptr_ + gh.Size(), 4321.0), 0);
}

}  // namespace
}  // namespace umbra
