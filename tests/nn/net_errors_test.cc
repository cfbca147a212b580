// The Net's errors: every graph error names its layer, a wrong input shape, outputs too large
// to exist, and weights no loss depends on.
#include "harness/layer_check.h"
#include "harness/tiny_net.h"
#include "umbra/nn/net.h"

namespace umbra {
namespace {
using nn::LayerSpec;
using nn::NetSpec;

using test::L;

TEST(Net, GraphErrorsNameTheLayer) {
  auto err = [](NetSpec s) { return test::ErrorOf([&] { nn::Net<cpu> n(s); }); };
  NetSpec s = test::SmallSpec(2);
  s.layers[2].in = {"nowhere"};
  EXPECT_NE(err(s).find("layer 'fc2' (fullc): input node 'nowhere'"), std::string::npos) << err(s);
  s = test::SmallSpec(2);
  s.layers.insert(s.layers.begin() + 2, L("fullc", "fc_extra", {"h"}, {"z"}, {{"nhidden", "2"}}));
  EXPECT_NE(err(s).find("insert a split layer"), std::string::npos) << err(s);
  s = test::SmallSpec(2);
  s.layers[2].out = {"h"};
  EXPECT_NE(err(s).find("produced twice"), std::string::npos) << err(s);
  s = test::SmallSpec(2);
  s.layers[0].params.push_back({"nhiden", "3"});
  EXPECT_NE(err(s).find("layer 'fc1' (fullc): unknown key 'nhiden'; did you mean 'nhidden'?"), std::string::npos) << err(s);
  s = test::SmallSpec(2);
  s.layers[0].type = "fullcc";
  EXPECT_NE(err(s).find("known types"), std::string::npos);
  s = test::SmallSpec(2);
  s.layers[0].in = {"in", "in"};
  EXPECT_NE(err(s).find("takes 1 input"), std::string::npos) << err(s);
}

// A default no layer type takes was dropped unsaid in a NetSpec built in code; a value that
// only some types refuse (algo = im2col: conv's, not relu's) stays a default for the others.
TEST(Net, DefaultsAreKeysSomeLayerTypeTakes) {
  auto err = [](NetSpec s) { return test::ErrorOf([&] { nn::Net<cpu> n(s); }); };
  NetSpec s = test::SmallSpec(2);
  s.defaults = {{"init_sigmaa", "0.1"}};
  EXPECT_NE(err(s).find("NetSpec defaults: init_sigmaa = 0.1: no layer type has this key; did you mean 'init_sigma'?"),
            std::string::npos) << err(s);
  s.defaults = {{"init", "bogus"}};
  EXPECT_NE(err(s).find("NetSpec defaults: init = bogus: "), std::string::npos) << err(s);
  EXPECT_NE(err(s).find("expected one of gaussian, uniform, xavier, kaiming"), std::string::npos) << err(s);
  s.defaults = {{"algo", "im2col"}, {"init_sigma", "0.1"}};
  EXPECT_NO_THROW(nn::Net<cpu> n(s));
}

// A name keys a layer's weights, updaters and settings: two layers of one name in a NetSpec
// built in code shared a momentum buffer (a heap overrun where the second weight was larger).
TEST(Net, LayerNamesAreUnique) {
  auto err = [](NetSpec s) { return test::ErrorOf([&] { nn::Net<cpu> n(s); }); };
  NetSpec s = test::SmallSpec(2);
  s.layers[2].name = "fc1";
  EXPECT_HAS(err(s), "layer 'fc1' (fullc): another layer of the net has this name");
  s = test::SmallSpec(2);
  s.layers[0].name = "fullc2";  // the name the net gives the unnamed layer 2
  s.layers[2].name = "";
  EXPECT_HAS(err(s), "layer 'fullc2' (fullc): another layer of the net has this name (the one given to an unnamed");
  s = test::SmallSpec(2);
  s.layers[0].name = "fc:1";
  EXPECT_HAS(err(s), "a layer name holds no ':'");
  nn::Net<cpu> n(test::SmallSpec(2));
  EXPECT_HAS(test::ErrorOf([&] { n.LayerAt(4); }), "layer index 4 of a net of 4 layers");
}

// A Backward reads its Forward's labels and values: a second one, or one after a forward
// without labels, ran on the last labels or on values the first rewrote in place.
TEST(Net, BackwardNeedsAForwardWithLabelsSinceTheLast) {
  nn::Net<cpu> n(test::SmallSpec(3));
  TensorContainer<cpu, 4> x(Shape4(3, 2, 3, 3), 0.5f);
  TensorContainer<cpu, 2> y(Shape2(3, 1), 1.f);
  const std::string want = "Backward needs a Forward given the batch's labels since the last Backward";
  EXPECT_HAS(test::ErrorOf([&] { n.Backward(); }), want);
  n.Forward(true, x.view(), &y.view());
  n.Backward();
  EXPECT_HAS(test::ErrorOf([&] { n.Backward(); }), want);
  n.Forward(false, x.view());
  EXPECT_HAS(test::ErrorOf([&] { n.Backward(); }), want);
  n.Forward(false, x.view(), &y.view());  // gradients at test-mode values: allowed
  n.Backward();
}

// A key of a layer's own block that its other settings make idle was taken and ignored without
// a word (init = xavier with init_sigma = 100 initialised as xavier): a note naming the key and
// why. Not an error: cxxnet ignored them too, and its ImageNet.conf gives init_sigma under a
// global random_type = xavier. A global default gets none (bowl.conf gives both as globals).
TEST(Net, KeysWithoutEffectGetANote) {
  const auto notes = [](std::vector<std::pair<std::string, std::string>> keys) {
    NetSpec s = test::SmallSpec(2);
    s.layers[0].where = "a.conf:7";
    for (auto& k : keys) s.layers[0].params.push_back(k);
    nn::Net<cpu> n(s);
    std::string all;
    for (const std::string& t : n.notes()) all += t + "\n";
    return all;
  };
  EXPECT_EQ(notes({{"init", "xavier"}, {"init_sigma", "100"}}),
            "a.conf:7: layer 'fc1' (fullc): init_sigma = 100 has no effect: init = xavier does not read init_sigma "
            "(gaussian does, and init = uniform without init_uniform)\n");
  EXPECT_HAS(notes({{"random_type", "kaiming"}, {"init_sigma", "1"}}), "random_type = kaiming does not read");
  EXPECT_HAS(notes({{"init", "gaussian"}, {"init_uniform", "100"}}),
             "init_uniform = 100 has no effect: init = gaussian does not read init_uniform");
  EXPECT_HAS(notes({{"init", "uniform"}, {"init_uniform", "0.1"}, {"init_sigma", "2"}}), "init_sigma = 2");
  EXPECT_HAS(notes({{"no_bias", "1"}, {"init_bias", "0.5"}}),
             "init_bias = 0.5 has no effect: with no_bias = 1 there is no bias to initialise");
  for (auto keys : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"init", "gaussian"}, {"init_sigma", "0.1"}}, {{"init", "uniform"}, {"init_sigma", "0.1"}},
           {{"random_type", "xavier"}, {"init_uniform", "0.1"}}, {{"init_bias", "0.5"}}})
    EXPECT_EQ(notes(keys), "") << keys[0].first;
  NetSpec g = test::SmallSpec(2);
  g.defaults = {{"init", "xavier"}, {"init_sigma", "100"}};
  EXPECT_TRUE(nn::Net<cpu>(g).notes().empty());
  NetSpec bn = test::SmallSpec(2);
  bn.layers.insert(bn.layers.begin(), L("batch_norm_no_ma", "bn", {"in"}, {"b"}, {{"bn_momentum", "0.5"}}));
  bn.layers[1].in = {"b"};
  ASSERT_EQ(nn::Net<cpu>(bn).notes().size(), 1u);
  EXPECT_HAS(nn::Net<cpu>(bn).notes()[0], "layer 'bn' (batch_norm_no_ma): bn_momentum = 0.5 has no effect: "
                                          "batch_norm_no_ma keeps no moving averages");
}

TEST(Net, InputShapeMismatchIsAnError) {
  nn::Net<cpu> net(test::SmallSpec(2));
  TensorContainer<cpu, 4> x(Shape4(3, 2, 3, 3), 0.f);
  EXPECT_NE(test::ErrorOf([&] { net.Forward(false, x.view()); }).find("(2,2,3,3)"), std::string::npos);
  // A training forward without labels would leave the loss layers' last labels for Backward.
  TensorContainer<cpu, 4> right(Shape4(2, 2, 3, 3), 0.f);
  EXPECT_NE(test::ErrorOf([&] { net.Forward(true, right.view()); }).find("a training forward needs the batch's labels"),
            std::string::npos);
}

// A size that makes an output's element count wrap (pad = 2^30) is an error naming the layer
// that produced it, not "empty input (50,1,1,-9223371813516475064)" from the next one.
TEST(Net, OutputsTooLargeNameTheirLayer) {
  NetSpec s;
  s.input_shape = Shape4(50, 1, 28, 28);
  s.layers = {LayerSpec{"conv", "c", {"in"}, {"c"}, {{"nchannel", "2"}, {"kernel_size", "3"}, {"pad", "1073741824"},
                                                      {"algo", "im2col"}}},
              LayerSpec{"flatten", "f", {"c"}, {"f"}, {}},
              LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "2"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  EXPECT_NE(test::ErrorOf([&] { nn::Net<cpu> n(s); })
                .find("layer 'c' (conv): output shape (50,2,2147483674,2147483674) is too large (more than 2^40 "
                      "elements)"),
            std::string::npos)
      << test::ErrorOf([&] { nn::Net<cpu> n(s); });
}

// A node past the machine's memory is refused before any weight is allocated (a conv with pad
// = 700 on 28x28 input drew its fc weights for 36 s before). The machine's memory is played by
// counting fake live bytes: 8 MiB left, a 16 MiB node after 16 MiB of weights; the error used
// to name the weights.
TEST(Net, ANodePastMemoryIsRefusedBeforeTheWeights) {
  NetSpec s = test::TinySpec(65536);
  s.input_shape = Shape4(64, 1, 1, 64);
  const size_t live = detail::HostTensorBytes().load(), total = detail::HostMemoryBytes();
  ASSERT_GT(total, live + (size_t(64) << 20));
  const size_t fake = total - live - (size_t(8) << 20);
  detail::HostTensorBytes() += fake;
  const std::string err = test::ErrorOf([&] { nn::Net<cpu> n(s); });
  detail::HostTensorBytes() -= fake;
  // Named with the layer that writes the node (it named node 'h' alone).
  EXPECT_HAS(err, "the net's node values and gradients (the largest: node 'h' of shape (64,1,1,65536), the output of "
                  "layer 'fc1' (fullc)): out of host memory");
  EXPECT_EQ(detail::HostTensorBytes().load(), live);
}

// Weights that no loss depends on would never train, while their untrained output is what
// metrics and predictions read: an error naming the layer when training, none for inference.
// A layer reading a loss layer's output is one too (the loss's backward sets the gradient from
// the labels alone: nothing after it reached the layers before, and a second softmax on the node
// made the loss read softmax(softmax(x))).
TEST(Net, WeightsAfterTheLossAreAnError) {
  NetSpec s;
  s.input_shape = Shape4(2, 1, 1, 4);
  s.layers = {LayerSpec{"fullc", "f0", {"in"}, {"h"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"h"}, {"p"}, {}},
              LayerSpec{"fullc", "f", {"p"}, {"o"}, {{"nhidden", "3"}}}};
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(s); }),
             "layer 'f' (fullc): reads node 'p', the output of layer 'loss' (softmax), a loss layer; a loss layer "
             "ends the net");
  s.layers[2] = LayerSpec{"softmax", "again", {"p"}, {"p"}, {}};
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(s); }), "layer 'again' (softmax): reads node 'p', the output of");
  s.layers[2] = LayerSpec{"flatten", "f", {"p"}, {"o"}, {}};  // weightless, but the net ends at the loss
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(s); }), "layer 'f' (flatten): reads node 'p', the output of");
  s.inference_only = true;  // a prediction runs the net as written
  s.layers[2] = LayerSpec{"fullc", "f", {"p"}, {"o"}, {{"nhidden", "3"}}};
  EXPECT_NO_THROW(nn::Net<cpu> n(s));
  // A fullc beside the loss, which no loss reads.
  s.layers = {LayerSpec{"split", "s", {"in"}, {"a", "b"}, {}}, LayerSpec{"fullc", "f0", {"a"}, {"h"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"h"}, {"p"}, {}}, LayerSpec{"fullc", "f", {"b"}, {"o"}, {{"nhidden", "3"}}}};
  EXPECT_NO_THROW(nn::Net<cpu> n(s));
  s.inference_only = false;
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(s); }),
             "layer 'f' (fullc) has weights, but no loss layer depends on its output");
}

}  // namespace
}  // namespace umbra
