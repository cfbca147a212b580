// Whole networks from config files: the example configs of this repository (examples/configs)
// and cxxnet's own (../shared/compat/cxxnet) are parsed, built as inference-only nets with a
// batch of 2 (shape inference and weight allocation only, no forward pass), and checked against
// output shapes and weight counts computed by hand below. A compat config that umbra cannot
// build must fail with one clear message; which ones do is asserted here too.
#include <filesystem>

#include "harness/tensor_util.h"
#include "umbra/config/netconfig.h"
#include "umbra/nn/updater.h"

namespace umbra {
namespace {

// Weights of the building blocks: conv with bias, conv without, fullc, batch_norm (gamma, beta;
// the moving statistics are not counted by Net::NumParams).
constexpr index_t Conv(index_t cin, index_t cout, index_t k, index_t ngroup = 1) {
  return cout * (cin / ngroup) * k * k + cout;
}
constexpr index_t ConvNoBias(index_t cin, index_t cout, index_t k) { return cout * cin * k * k; }
constexpr index_t Fc(index_t in, index_t out) { return in * out + out; }
constexpr index_t Bn(index_t c) { return 2 * c; }

// How long a build takes is measured by bench_train --setup beside PyTorch (bench/run.py
// --setup), not asserted here: a test's timing on a shared machine is noise.
struct Built {
  Shape<4> out;
  index_t params;
};

Built Build(const std::string& path) {
  config::NetConfig nc = config::NetFromConfig(config::ParseConfigFile(path));
  nc.spec.input_shape[0] = 2;  // small batch: the counts do not depend on it
  nc.spec.inference_only = true;
  nn::Net<cpu> net(nc.spec);
  return {net.Output().shape, net.NumParams()};
}

// The config_tests target defines UMBRA_SHARED_DIR as "<source dir>/../shared".
std::string SourceDir() {
  const std::string shared = UMBRA_SHARED_DIR, tail = "/../shared";
  return shared.substr(0, shared.size() - tail.size());
}
const std::string kExamples = SourceDir() + "/examples/configs/";
const std::string kCompat = std::string(UMBRA_SHARED_DIR) + "/compat/cxxnet/";

// torchvision's AlexNet layout, 3x224x224: 224 -> 55 -> pool 27 -> 27 -> pool 13 -> 13 -> pool 6.
TEST(NetBuild, AlexNet) {
  const Built b = Build(kExamples + "alexnet.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 1000));
  constexpr index_t kExpected = Conv(3, 64, 11)        //     23,296
                                + Conv(64, 192, 5)     //    307,392
                                + Conv(192, 384, 3)    //    663,936
                                + Conv(384, 256, 3)    //    884,992
                                + Conv(256, 256, 3)    //    590,080
                                + Fc(256 * 6 * 6, 4096)  // 37,752,832
                                + Fc(4096, 4096)       // 16,781,312
                                + Fc(4096, 1000);      //  4,097,000
  static_assert(kExpected == 61100840);  // torchvision.models.alexnet()'s count
  EXPECT_EQ(b.params, kExpected);
}

// ResNet-18: 224 -conv/2-> 112 -pool/2-> 56 -> 28 -> 14 -> 7 -> global pool; each stage two basic
// blocks (two 3x3 conv + bn); stages 2-4 start with stride 2 and a 1x1 conv + bn shortcut.
TEST(NetBuild, ResNet18) {
  const Built b = Build(kExamples + "resnet18.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 1000));
  constexpr auto block = [](index_t cin, index_t c) {
    return ConvNoBias(cin, c, 3) + Bn(c) + ConvNoBias(c, c, 3) + Bn(c) +
           (cin != c ? ConvNoBias(cin, c, 1) + Bn(c) : 0);
  };
  constexpr index_t kExpected = ConvNoBias(3, 64, 7) + Bn(64)              //      9,536
                                + block(64, 64) + block(64, 64)            //    147,968
                                + block(64, 128) + block(128, 128)         //    525,568
                                + block(128, 256) + block(256, 256)        //  2,099,712
                                + block(256, 512) + block(512, 512)        //  8,393,728
                                + Fc(512, 1000);                           //    513,000
  static_assert(kExpected == 11689512);  // torchvision.models.resnet18()'s count
  EXPECT_EQ(b.params, kExpected);
}

// ResNet-50 (torchvision v1.5): stages of 3, 4, 6, 3 bottlenecks (1x1 -> 3x3 -> 1x1, 4x out);
// each stage's first block has a 1x1 conv + bn shortcut. The config is generated (gen_resnet50.py).
TEST(NetBuild, ResNet50) {
  const Built b = Build(kExamples + "resnet50.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 1000));
  constexpr auto block = [](index_t cin, index_t w) {
    return ConvNoBias(cin, w, 1) + Bn(w) + ConvNoBias(w, w, 3) + Bn(w) + ConvNoBias(w, 4 * w, 1) + Bn(4 * w) +
           (cin != 4 * w ? ConvNoBias(cin, 4 * w, 1) + Bn(4 * w) : 0);
  };
  constexpr index_t kExpected = ConvNoBias(3, 64, 7) + Bn(64)                          //      9,536
                                + block(64, 64) + 2 * block(256, 64)                   //    215,808
                                + block(256, 128) + 3 * block(512, 128)                //  1,219,584
                                + block(512, 256) + 5 * block(1024, 256)               //  7,098,368
                                + block(1024, 512) + 2 * block(2048, 512)              // 14,964,736
                                + Fc(2048, 1000);                                      //  2,049,000
  static_assert(kExpected == 25557032);  // torchvision.models.resnet50()'s count
  EXPECT_EQ(b.params, kExpected);
}

// Caffe's CIFAR-10 quick: 32 -pool-> 16 -pool-> 8 -pool-> 4 (pooling rounds up).
TEST(NetBuild, Cifar10Quick) {
  const Built b = Build(kExamples + "cifar10_quick.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 10));
  constexpr index_t kExpected = Conv(3, 32, 5) + Conv(32, 32, 5) + Conv(32, 64, 5) + Fc(64 * 4 * 4, 64) + Fc(64, 10);
  static_assert(kExpected == 145578);  // Caffe's cifar10_quick
  EXPECT_EQ(b.params, kExpected);
}

class CompatConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kCompat + "MNIST.conf")) GTEST_SKIP() << "no " << kCompat;
  }
};

TEST_F(CompatConfig, Mnist) {
  const Built b = Build(kCompat + "MNIST.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 10));
  EXPECT_EQ(b.params, Fc(784, 100) + Fc(100, 10));
}

// 28 -conv3/2,pad1-> 14 -pool3/2-> 7 (rounded up: (14-3+1)/2+1).
TEST_F(CompatConfig, MnistConv) {
  const Built b = Build(kCompat + "MNIST_CONV.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 10));
  EXPECT_EQ(b.params, Conv(1, 32, 3) + Fc(32 * 7 * 7, 100) + Fc(100, 10));
}

// cxxnet's two-tower AlexNet, 3x227x227: conv2, conv4 and conv5 in 2 groups.
// 227 -conv11/4-> 55 -pool-> 27 -conv5,pad2-> 27 -pool-> 13 -> 13 -> 13 -> 13 -pool-> 6.
TEST_F(CompatConfig, ImageNetAlexNet) {
  const Built b = Build(kCompat + "ImageNet.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 1000));
  constexpr index_t kExpected = Conv(3, 96, 11) + Conv(96, 256, 5, 2) + Conv(256, 384, 3) +
                                Conv(384, 384, 3, 2) + Conv(384, 256, 3, 2) + Fc(256 * 6 * 6, 4096) +
                                Fc(4096, 4096) + Fc(4096, 1000);
  static_assert(kExpected == 60965224);  // the AlexNet paper's "60 million"
  EXPECT_EQ(b.params, kExpected);
}

// He & Sun's J' model: 224 -conv7/2-> 109 -pool3/1-> 107 -conv2/3-> 36 -> 37 -> 36 -> 37 -pool-> 35
// -conv2/2-> 17 -> 18 -> 17 -> 18 -pool-> 16 -conv2/3-> 5 -pad1-> 6; spatial pyramid of 6x6, 3x3,
// 2x2, 1x1 cells: 50 cells of 256 channels into fc1.
TEST_F(CompatConfig, KaimingPyramid) {
  const Built b = Build(kCompat + "kaiming.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 1000));
  constexpr index_t kExpected = Conv(3, 64, 7) + Conv(64, 128, 2) + 3 * Conv(128, 128, 2) + Conv(128, 256, 2) +
                                3 * Conv(256, 256, 2) + Conv(256, 2304, 2) + Conv(2304, 256, 2) +
                                Fc(256 * (36 + 9 + 4 + 1), 4096) + Fc(4096, 4096) + Fc(4096, 1000);
  EXPECT_EQ(b.params, kExpected);
}

// Inception with batch normalisation (Ioffe & Szegedy 2015); every conv has a bias and a
// batch_norm. 224 -> 112 -pool-> 56 -pool-> 28 (3a, 3b) -3c-> 14 (4a-4d) -4e-> 7 (5a, 5b) -avg 7-> 1.
TEST_F(CompatConfig, InceptionBn) {
  const Built b = Build(kCompat + "Inception-BN.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 1000));
  constexpr auto cbn = [](index_t cin, index_t cout, index_t k) { return Conv(cin, cout, k) + Bn(cout); };
  // Module with branches 1x1 (a), 1x1 r3 -> 3x3 b, 1x1 rd -> 3x3 d -> 3x3 d, avg pool -> 1x1 p;
  // its output has a + b + d + p channels.
  constexpr auto module = [cbn](index_t in, index_t a, index_t r3, index_t b, index_t rd, index_t d, index_t p) {
    return cbn(in, a, 1) + cbn(in, r3, 1) + cbn(r3, b, 3) + cbn(in, rd, 1) + cbn(rd, d, 3) + cbn(d, d, 3) +
           cbn(in, p, 1);
  };
  // Reduction module (stride 2): no 1x1 branch, max pool passes `in` channels through.
  constexpr auto reduce = [cbn](index_t in, index_t r3, index_t b, index_t rd, index_t d) {
    return cbn(in, r3, 1) + cbn(r3, b, 3) + cbn(in, rd, 1) + cbn(rd, d, 3) + cbn(d, d, 3);
  };
  constexpr index_t kExpected = cbn(3, 64, 7) + cbn(64, 64, 1) + cbn(64, 192, 3)
                                + module(192, 64, 64, 64, 64, 96, 32)      // 3a -> 256
                                + module(256, 64, 64, 96, 64, 96, 64)      // 3b -> 320
                                + reduce(320, 128, 160, 64, 96)            // 3c -> 160+96+320 = 576
                                + module(576, 224, 64, 96, 96, 128, 128)   // 4a -> 576
                                + module(576, 192, 96, 128, 96, 128, 128)  // 4b -> 576
                                + module(576, 160, 128, 160, 128, 160, 128)  // 4c -> 608
                                + module(608, 96, 128, 192, 160, 192, 128)   // 4d -> 608
                                + reduce(608, 128, 192, 192, 256)            // 4e -> 192+256+608 = 1056
                                + module(1056, 352, 192, 320, 160, 224, 128)  // 5a -> 1024
                                + module(1024, 352, 192, 320, 192, 224, 128)  // 5b -> 1024
                                + Fc(1024, 1000);
  EXPECT_EQ(b.params, kExpected);
  // Its rates are wmat:lr = 0.05 and bias:lr = 0.1 with no global one: cxxnet's batch_norm
  // tagged gamma and beta wmat, so they train at 0.05 (not the default 0.01) with wmat:wd.
  const config::NetConfig nc = config::NetFromConfig(config::ParseConfigFile(kCompat + "Inception-BN.conf"));
  nn::UpdaterSettings us;
  for (const auto& [k, v] : nc.updater) ASSERT_TRUE(us.Set(k, v)) << k;
  for (const char* w : {"bn_1.gamma", "bn_1.beta", "conv_1.wmat"}) {
    EXPECT_FLOAT_EQ(us.For(w).lr, 0.05f) << w;
    EXPECT_FLOAT_EQ(us.For(w).wd, 1e-4f) << w;
  }
  EXPECT_FLOAT_EQ(us.For("conv_1.bias").lr, 0.1f);
  EXPECT_FLOAT_EQ(us.For("conv_1.bias").wd, 0.f);
}

// Kaggle plankton ("bowl"): an anonymous layer[+1] chain, 3x40x40, 121 classes.
// 40 -conv4,pad2-> 41 -pool3/2-> 20 -> 20 -> 20 -pool-> 10 -conv2-> 9 -conv3-> 7 -pool-> 3.
TEST_F(CompatConfig, Bowl) {
  const Built b = Build(kCompat + "bowl.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 121));
  EXPECT_EQ(b.params, Conv(3, 48, 4) + Conv(48, 96, 3) + Conv(96, 96, 3) + Conv(96, 128, 2) + Conv(128, 128, 3) +
                          Fc(128 * 3 * 3, 256) + Fc(256, 121));
}

// The prediction config: its net builds (task = pred_raw and the imgbin iterator are the
// trainer's business). 48 -conv5/4,pad2-> 12 -pool-> 6 -conv3,pad2-> 8 -> 8 -pool-> 4.
TEST_F(CompatConfig, Pred) {
  const Built b = Build(kCompat + "pred.conf");
  EXPECT_EQ(b.out, Shape4(2, 1, 1, 121));
  EXPECT_EQ(b.params, Conv(3, 96, 5) + Conv(96, 128, 3) + Conv(128, 128, 3) + Fc(128 * 4 * 4, 512) +
                          Fc(512, 512) + Fc(512, 121));
}

// Global keys that a layer declares are defaults for every layer (cxxnet's defcfg): bowl.conf
// sets random_type = xavier and init_sigma = 0.01 outside netconfig.
TEST_F(CompatConfig, GlobalLayerKeysBecomeDefaults) {
  const auto nc = config::NetFromConfig(config::ParseConfigFile(kCompat + "bowl.conf"));
  EXPECT_EQ(nc.spec.defaults, (std::vector<std::pair<std::string, std::string>>{
                                  {"random_type", "xavier"}, {"init_sigma", "0.01"}}));
}

// A global key is a default for the layers whose values it fits: algo = im2col is conv's, and the
// relu, pooling and softmax layers (whose algo is auto or expr) keep their own default.
TEST(NetBuild, GlobalKeyAppliesWhereTheValueFits) {
  const std::string text =
      "netconfig = start\n"
      "layer[0->1] = conv:c1\n  kernel_size = 3\n  nchannel = 4\n"
      "layer[1->1] = relu:r1\n"
      "layer[1->2] = max_pooling:p1\n  kernel_size = 2\n  stride = 2\n"
      "layer[2->3] = flatten\n"
      "layer[3->4] = fullc:fc\n  nhidden = 3\n"
      "layer[4->4] = softmax\n"
      "netconfig = end\n"
      "input_shape = 1,8,8\nbatch_size = 2\nalgo = im2col\n";
  config::NetConfig nc = config::NetFromConfig(config::ParseConfig(text, "global_algo.conf"));
  EXPECT_EQ(nc.spec.defaults, (std::vector<std::pair<std::string, std::string>>{{"algo", "im2col"}}));
  nn::Net<cpu> net(nc.spec);
  EXPECT_EQ(net.Output().shape, Shape4(2, 1, 1, 3));
  // A value that no layer type takes is still an error naming the file and line.
  EXPECT_THROW(
      {
        try {
          config::NetFromConfig(config::ParseConfig(text + "algo = fastest\n", "global_algo.conf"));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("global_algo.conf:"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
}

// A global key of both the updater and a layer of the net would reach both (adam's eps = 1e-8
// became batch norm's; grad_scale = 2 scaled the gradient twice): an error naming the layer and
// how to give the key to one owner. eps goes to the updater alone where no weight uses adam, and
// a layer that sets the key itself does not take the global.
TEST(NetBuild, AGlobalKeyOfTheUpdaterAndALayerIsAnError) {
  const std::string net =
      "netconfig = start\n"
      "layer[0->1] = fullc:fc\n  nhidden = 3\n"
      "layer[1->2] = batch_norm:bn\n"
      "layer[2->2] = softmax:loss\n"
      "netconfig = end\n"
      "input_shape = 1,1,4\nbatch_size = 2\n";
  const auto error = [&](const std::string& extra) {
    return test::ErrorOf([&] { config::NetFromConfig(config::ParseConfig(net + extra, "two.conf")); });
  };
  EXPECT_NE(error("updater = adam\neps = 1e-8\n")
                .find("two.conf:10: eps = 1e-8 would go to the updater and to the batch_norm layer declared at "
                      "two.conf:4; set it inside that layer's definition for the layer, or as wmat:eps, bias:eps or "
                      "LAYER:eps for the updater"),
            std::string::npos)
      << error("updater = adam\neps = 1e-8\n");
  EXPECT_NE(error("fc:updater = adam\neps = 1e-8\n").find("would go to the updater"), std::string::npos);
  EXPECT_NE(error("grad_scale = 2\n").find("grad_scale = 2 would go to the updater and to the softmax layer"),
            std::string::npos)
      << error("grad_scale = 2\n");
  EXPECT_EQ(error("eps = 1e-3\n"), "no error");  // sgd: batch norm's alone
  // A value batch norm refuses is adam's alone under adam (it was an error naming a batch
  // norm, with or without one in the net); without adam it is batch norm's, and refused.
  EXPECT_EQ(error("updater = adam\neps = 1e-30\n"), "no error");
  EXPECT_NE(error("eps = 1e-30\n").find("two.conf:9: layer 'bn' (batch_norm): value 1e-30 for key 'eps' is outside "
                                       "[1e-20, 1] (declared at two.conf:4) (a key outside netconfig is the default of "
                                       "every layer that takes it; no weight uses adam)"),
            std::string::npos)
      << error("eps = 1e-30\n");
  // A value every layer type refuses is blamed on a layer of this net, or said to be no
  // layer's of this net (it named a layer type the net does not have).
  EXPECT_NE(error("algo = bogus\n").find("two.conf:9: layer 'bn' (batch_norm): bad value 'bogus' for key 'algo'"),
            std::string::npos)
      << error("algo = bogus\n");
  EXPECT_NE(error("tf32 = 2\n").find("; no layer of this net takes tf32 (a key outside netconfig"), std::string::npos)
      << error("tf32 = 2\n");
  EXPECT_NE(error("updater = adam\neps = 0\n").find("two.conf:10: value 0 for key 'eps' must be > 0"), std::string::npos)
      << error("updater = adam\neps = 0\n");
  // cxxnet's beta1 is the new gradient's weight: 0 would divide by zero, 1 is the usual beta1 = 0;
  // below 1e-6, 1 - beta rounds in float (beta2 = 1e-17 left the weights where they were).
  EXPECT_NE(error("updater = adam\nbeta1 = 0\n").find("two.conf:10: value 0 for key 'beta1' is outside [1e-06, 1]"),
            std::string::npos)
      << error("updater = adam\nbeta1 = 0\n");
  EXPECT_HAS(error("updater = adam\nbeta2 = 1e-17\n"),
             "two.conf:10: value 1e-17 for key 'beta2' is outside [1e-06, 1]");
  EXPECT_EQ(error("updater = adam\nbeta1 = 1\n"), "no error");
  EXPECT_EQ(error("updater = adam\nbeta2 = 1e-6\n"), "no error");
  // A float the CPU flushes to 0 (adam's eps = 1e-39 made 0/0 of a zero gradient).
  EXPECT_HAS(error("updater = adam\neps = 1e-39\n"),
             "bad value '1e-39' for key 'eps': expected a number a float holds at full precision (this one is below "
             "1.18e-38, which umbra's CPU arithmetic flushes to 0)");
  EXPECT_EQ(error("updater = adam\nwmat:eps = 1e-8\nbias:eps = 1e-8\n"), "no error");
  const config::NetConfig own = config::NetFromConfig(config::ParseConfig(
      "netconfig = start\nlayer[0->1] = fullc:fc\n  nhidden = 3\nlayer[1->1] = softmax:loss\n  grad_scale = 1\n"
      "netconfig = end\ninput_shape = 1,1,4\nbatch_size = 2\ngrad_scale = 2\n",
      "own.conf"));  // the loss sets its own: the global is the updater's
  EXPECT_EQ(own.updater, (std::vector<std::pair<std::string, std::string>>{{"grad_scale", "2"}}));
}

}  // namespace
// The net's own errors about a config's layer (a node read twice, a shape that does not fit, a
// value the layer refuses when it is set up) start with the file:line of the layer's declaration,
// as the config's errors do: a large config has many layers of one type.
TEST(NetBuild, NetErrorsNameTheLayersLine) {
  const auto error = [](const std::string& layers) {
    return test::ErrorOf([&] {
      const config::NetConfig nc = config::NetFromConfig(config::ParseConfig(
          "netconfig = start\n" + layers + "netconfig = end\ninput_shape = 1,4,4\nbatch_size = 2\n", "n.conf"));
      nn::Net<cpu> net(nc.spec);
    });
  };
  EXPECT_HAS(error("layer[0->1] = relu:r1\nlayer[1->2] = fullc:fc1\n  nhidden = 3\nlayer[1->3] = fullc:fc2\n"
                   "  nhidden = 3\n"),
             "n.conf:5: layer 'fc2' (fullc): node '1' already feeds layer 'fc1' (fullc); insert a split layer");
  EXPECT_HAS(error("layer[0->1] = flatten\nlayer[1->2] = conv:c1\n  kernel_size = 5\n  nchannel = 2\n"),
             "n.conf:3: layer 'c1' (conv): input (2,1,1,16) is smaller than the kernel 5x5");
  // A net built in code (no file) keeps the plain message.
  nn::NetSpec spec;
  spec.input_shape = Shape4(2, 1, 4, 4);
  spec.layers = {nn::LayerSpec{"relu", "r", {"in"}, {"a"}, {}}, nn::LayerSpec{"relu", "s", {"in"}, {"b"}, {}}};
  try {
    nn::Net<cpu> net(spec);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message().rfind("layer 's' (relu): node 'in' already feeds", 0), 0u) << e.message();
  }
}

}  // namespace umbra
