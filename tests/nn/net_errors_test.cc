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

// Weights that no loss depends on would never train, while their untrained output is what
// metrics and predictions read: an error naming the layer when training, none for inference.
TEST(Net, WeightsAfterTheLossAreAnError) {
  NetSpec s;
  s.input_shape = Shape4(2, 1, 1, 4);
  s.layers = {LayerSpec{"fullc", "f0", {"in"}, {"h"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"h"}, {"p"}, {}},
              LayerSpec{"fullc", "f", {"p"}, {"o"}, {{"nhidden", "3"}}}};
  EXPECT_NE(test::ErrorOf([&] { nn::Net<cpu> n(s); })
                .find("layer 'f' (fullc) has weights, but no loss layer depends on its output"),
            std::string::npos)
      << test::ErrorOf([&] { nn::Net<cpu> n(s); });
  s.inference_only = true;
  EXPECT_NO_THROW(nn::Net<cpu> n(s));
  s.inference_only = false;
  s.layers[2] = LayerSpec{"flatten", "f", {"p"}, {"o"}, {}};  // weightless: harmless
  EXPECT_NO_THROW(nn::Net<cpu> n(s));
}

}  // namespace
}  // namespace umbra
