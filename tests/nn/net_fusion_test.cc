// The net's fusions (NetSpec::fuse_relu, fuse_add): a relu into the layer before it, a residual
// block's sum into its batch norm, each only where safe, and training exactly as written.
#include <algorithm>
#include <functional>

#include "harness/layer_check.h"
#include "harness/net_compare.h"
#include "harness/tiny_net.h"
#include "umbra/nn/net.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {
using nn::LayerSpec;
using nn::NetSpec;

using test::ExpectTrainExactlyAlike;
using test::L;
using test::Residual;

std::vector<std::string> LayerNames(nn::Net<cpu>& net) {
  std::vector<std::string> names;
  for (size_t i = 0; i < net.NumLayers(); ++i) names.push_back(net.LayerAt(i).name());
  return names;
}

// NetSpec::fuse_relu: the relus after batch norms and after the sum go into those layers (the
// net has three layers fewer, a fused relu's output name names its producer's node), and
// training is exactly what the net as written computes.
TEST(Net, FusedReluTrainsExactlyAsWritten) {
  NetSpec fused = Residual(4), written = Residual(4);
  fused.fuse_add = written.fuse_add = false;  // the sum's own fusion: FusedSum* below
  written.fuse_relu = false;
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<cpu> a(fused, us), b(written, us);
  EXPECT_EQ(b.net().NumLayers(), fused.layers.size());
  for (const char* r : {"r0", "r1", "rs"}) EXPECT_FALSE(std::ranges::count(LayerNames(a.net()), r)) << r;
  EXPECT_EQ(a.net().NumLayers(), fused.layers.size() - 3);
  EXPECT_EQ(a.net().NodeByName("r1").data.dptr_, a.net().NodeByName("b1").data.dptr_);
  EXPECT_EQ(a.net().NodeByName("rs").data.dptr_, a.net().NodeByName("s").data.dptr_);
  ExpectTrainExactlyAlike(a, b, fused.input_shape, 4);
}

// The layer named "sum" of a Residual-style spec, to edit or insert before.
std::vector<LayerSpec>::iterator SumOf(NetSpec& s) {
  return std::ranges::find_if(s.layers, [](const LayerSpec& l) { return l.name == "sum"; });
}

// Residual(batch) with a projection shortcut: the split's branch id through a 1x1 conv and a
// batch norm (node "db"), summed with b2; the shortcut's batch norm is the layer before the sum.
NetSpec Projection(index_t batch) {
  NetSpec s = Residual(batch);
  auto sum = SumOf(s);
  sum->in = {"b2", "db"};
  s.layers.insert(sum, {L("conv", "cd", {"id"}, {"cd"}, {{"nchannel", "6"}, {"kernel_size", "1"}}),
                        L("batch_norm", "bnd", {"cd"}, {"db"})});
  return s;
}

// NetSpec::fuse_add: a ResNet block's sum goes into the batch norm just before it, with the
// relu after it (the net has the sum and that relu fewer, the sum's and relu's names name the
// batch norm's node), the other input takes the batch norm's output gradient buffer, and
// training is exactly what the net as written computes: identity shortcuts, where bn2 is the
// layer before the sum, and projection shortcuts, where the shortcut's batch norm is.
TEST(Net, FusedSumTrainsExactlyAsWritten) {
  const nn::UpdaterSettings us = test::SgdMomentum();
  for (const bool projection : {false, true}) {
    SCOPED_TRACE(projection ? "projection shortcut" : "identity shortcut");
    NetSpec fused = projection ? Projection(4) : Residual(4), written = fused;
    written.fuse_add = false;
    nn::Trainer<cpu> a(fused, us), b(written, us);
    const auto names = LayerNames(a.net());
    EXPECT_FALSE(std::ranges::count(names, "sum"));
    EXPECT_FALSE(std::ranges::count(names, "rs"));
    EXPECT_EQ(a.net().NumLayers(), b.net().NumLayers() - 1);
    const auto& net = a.net();
    const char* bn = projection ? "db" : "b2";      // the batch norm the sum went into
    const char* addend = projection ? "b2" : "id";  // the sum's other input
    EXPECT_EQ(net.NodeByName("s").data.dptr_, net.NodeByName(bn).data.dptr_);
    EXPECT_EQ(net.NodeByName("rs").data.dptr_, net.NodeByName(bn).data.dptr_);
    EXPECT_EQ(net.NodeByName(addend).grad.dptr_, net.NodeByName(bn).grad.dptr_);
    // The relu's mask: from the identity shortcut, which c1's backward reads after bn2's anyway;
    // from the output where the addend (b2) would be held for it alone.
    const auto& layer = a.net().LayerAt(size_t(std::ranges::find(names, projection ? "bnd" : "bn2") - names.begin()));
    EXPECT_EQ(layer.BackwardReadsInput(1), !projection);
    EXPECT_EQ(layer.BackwardReadsOutput(0), projection);
    ExpectTrainExactlyAlike(a, b, fused.input_shape, 4);
  }
}

// Where the batch norm's output (under any version of its name: b2') is kept or read again, a
// layer stands between it and the sum, its own relu came first, the sum takes three inputs, or
// the layer before the sum is no batch norm, the sum runs as written.
TEST(Net, FusedSumOnlyWhereSafe) {
  auto names = [](NetSpec s) {
    nn::Net<cpu> n(s);
    return LayerNames(n);
  };
  auto has_sum = [&](const NetSpec& s) { return std::ranges::count(names(s), "sum") == 1; };
  EXPECT_FALSE(has_sum(Residual(2)));
  std::vector<LayerSpec>::iterator sum;
  NetSpec kept = Residual(2);
  kept.keep_values = {"b2"};
  EXPECT_TRUE(has_sum(kept));
  NetSpec kept_sum = Residual(2);
  kept_sum.keep_values = {"s"};
  EXPECT_TRUE(has_sum(kept_sum));
  // A config names the output of a rewrite that cannot run in place b2'; keeping b2 keeps it.
  NetSpec primed = Residual(2);
  sum = SumOf(primed);
  sum->in = {"b2'", "id"};
  primed.layers.insert(sum, L("batch_norm", "bn2b", {"b2"}, {"b2'"}));
  EXPECT_FALSE(has_sum(primed));
  primed.keep_values = {"b2"};
  EXPECT_TRUE(has_sum(primed));
  NetSpec between = Residual(2);  // the shortcut's tanh runs after bn2
  sum = SumOf(between);
  between.layers.insert(sum, L("tanh", "t", {"id"}, {"id"}));
  EXPECT_TRUE(has_sum(between));
  NetSpec relu_first = Residual(2);  // bn2 -> relu -> sum: the relu goes into bn2, the sum not
  sum = SumOf(relu_first);
  sum->in = {"r2", "id"};
  relu_first.layers.insert(sum, L("relu", "r2", {"b2"}, {"r2"}));
  EXPECT_TRUE(has_sum(relu_first));
  NetSpec three = Residual(2);  // a third input: the split's third branch
  three.layers[3].out = {"x", "id", "id2"};
  sum = SumOf(three);
  sum->in = {"b2", "id", "id2"};
  EXPECT_TRUE(has_sum(three));
  NetSpec after_conv = Residual(2);  // c2's output summed directly
  sum = SumOf(after_conv);
  sum->in = {"c2", "id"};
  after_conv.layers.erase(sum - 1);
  EXPECT_TRUE(has_sum(after_conv));
  NetSpec twice = Residual(2);  // b2 read again after the sum: the net's own error, unchanged
  sum = SumOf(twice);
  twice.layers.insert(sum + 1, L("tanh", "t", {"b2"}, {"t"}));
  EXPECT_NE(test::ErrorOf([&] { names(twice); }).find("node 'b2' already feeds layer 'sum' (eltwise_sum)"),
            std::string::npos)
      << test::ErrorOf([&] { names(twice); });
  NetSpec id_twice = Residual(2);  // id read again after the fused sum: the error names both
  sum = SumOf(id_twice);
  id_twice.layers.insert(sum + 1, L("tanh", "t", {"id"}, {"t"}));
  EXPECT_NE(test::ErrorOf([&] { names(id_twice); })
                .find("node 'id' already feeds layer 'bn2' (batch_norm) (with the sum 'sum' fused in)"),
            std::string::npos)
      << test::ErrorOf([&] { names(id_twice); });
}

// A share naming a relu or a sum that went into its producer (weightless, with no entry of its
// own among the net's layers) applies that layer's definition again: the net trains exactly as
// with both fusions off, where the shares find their sources as written.
TEST(Net, ShareOfAFusedLayerTrainsAsWritten) {
  NetSpec fused = Residual(4);
  auto pool = std::ranges::find_if(fused.layers, [](const LayerSpec& l) { return l.name == "pool"; });
  fused.layers.insert(pool + 1, {L("share", "r1_again", {"p"}, {"p"}, {{"source", "r1"}}),
                                 L("split", "sp2", {"p"}, {"p1", "p2"}),
                                 L("share", "sum_again", {"p1", "p2"}, {"q"}, {{"source", "sum"}})});
  std::ranges::find_if(fused.layers, [](const LayerSpec& l) { return l.name == "flat"; })->in = {"q"};
  NetSpec written = fused;
  written.fuse_relu = written.fuse_add = false;
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<cpu> a(fused, us), b(written, us);
  const auto names = LayerNames(a.net());
  EXPECT_FALSE(std::ranges::count(names, "r1"));
  EXPECT_FALSE(std::ranges::count(names, "sum"));
  EXPECT_TRUE(std::ranges::count(names, "r1_again") && std::ranges::count(names, "sum_again"));
  ExpectTrainExactlyAlike(a, b, fused.input_shape, 4);
  // A share of that share is refused as with the fusions off.
  for (const bool fuse : {true, false}) {
    NetSpec twice = fused;
    twice.fuse_relu = twice.fuse_add = fuse;
    auto flat = std::ranges::find_if(twice.layers, [](const LayerSpec& l) { return l.name == "flat"; });
    twice.layers.insert(flat, L("share", "again2", {"q"}, {"q"}, {{"source", "r1_again"}}));
    EXPECT_NE(test::ErrorOf([&] { nn::Net<cpu> n(twice); }).find("'r1_again' is itself a share"), std::string::npos)
        << fuse;
  }
}

// conv (im2col; oneDNN declines) and fullc with their relus fused: the same training, exactly.
TEST(Net, FusedConvAndFullcReluTrainExactlyAsWritten) {
  NetSpec fused;
  fused.input_shape = Shape4(4, 2, 8, 8);
  fused.seed = 5;
  fused.layers = {L("conv", "c", {"in"}, {"c"}, {{"nchannel", "4"}, {"kernel_size", "3"}, {"algo", "im2col"}}),
                  L("relu", "rc", {"c"}, {"c"}),
                  L("max_pooling", "p", {"c"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}}),
                  L("flatten", "f", {"p"}, {"f"}),
                  L("fullc", "fc1", {"f"}, {"h"}, {{"nhidden", "8"}}),
                  L("relu", "rh", {"h"}, {"r"}),
                  L("fullc", "fc2", {"r"}, {"o"}, {{"nhidden", "3"}}),
                  L("softmax", "loss", {"o"}, {"prob"})};
  NetSpec written = fused;
  written.fuse_relu = false;
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<cpu> a(fused, us), b(written, us);
  EXPECT_EQ(a.net().NumLayers(), fused.layers.size() - 2);
  ExpectTrainExactlyAlike(a, b, fused.input_shape, 3);
}

// Where a relu's input is read or kept by something else, or written by a layer that cannot
// apply it, or not by the layer just before, the relu runs as written; an in-place relu fuses.
TEST(Net, FusedReluOnlyWhereSafe) {
  auto names = [](NetSpec s) {
    nn::Net<cpu> n(s);
    return LayerNames(n);
  };
  auto has = [](const std::vector<std::string>& v, const char* n) { return std::ranges::count(v, n) == 1; };
  NetSpec kept = Residual(2);
  kept.keep_values = {"b1"};  // its value before the relu is to be read
  auto v = names(kept);
  EXPECT_TRUE(has(v, "r1"));
  EXPECT_FALSE(has(v, "r0"));
  NetSpec between = Residual(2);  // a layer between the batch norm and its relu
  between.layers.insert(between.layers.begin() + 6, L("tanh", "t", {"id"}, {"id"}));
  EXPECT_TRUE(has(names(between), "r1"));
  NetSpec after_tanh = Residual(2);  // tanh does not fuse; nor does leaky_relu
  after_tanh.layers[1] = L("tanh", "t", {"c0"}, {"c0"});
  after_tanh.layers[2] = L("leaky_relu", "r0", {"c0"}, {"r0"});
  after_tanh.layers.insert(after_tanh.layers.begin() + 2, L("relu", "r", {"c0"}, {"c0"}));
  v = names(after_tanh);
  EXPECT_TRUE(has(v, "r"));
  EXPECT_TRUE(has(v, "r0"));
  NetSpec inplace = Residual(2);
  inplace.layers[2] = L("relu", "r0", {"b0"}, {"b0"});
  inplace.layers[3] = L("split", "sp", {"b0"}, {"x", "id"});
  EXPECT_FALSE(has(names(inplace), "r0"));
  NetSpec twice = Residual(2);  // b1 read again after its relu: the net's own error, unchanged
  twice.layers.insert(twice.layers.begin() + 7, L("tanh", "t", {"b1"}, {"t"}));
  EXPECT_NE(test::ErrorOf([&] { names(twice); }).find("node 'b1' already feeds layer 'r1' (relu)"), std::string::npos)
      << test::ErrorOf([&] { names(twice); });
}

}  // namespace
}  // namespace umbra
