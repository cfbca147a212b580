// The cxxnet config parser: every syntax form, every error with file:line, and the netconfig
// sections of cxxnet's own example configs (../shared/compat/cxxnet) building their networks.
#include <filesystem>

#include "harness/tensor_util.h"
#include "umbra/config/netconfig.h"

namespace umbra {
namespace {
using config::ParseConfig;

TEST(Config, SyntaxForms) {
  const auto e = ParseConfig(
      "# comment\n"
      "a = 1\n"
      "b=2 c =3   # trailing comment\n"
      "path = \"./data/x y.gz\"\n"
      "netconfig=start\n",
      "t.conf");
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].key, "a");
  EXPECT_EQ(e[1].value, "2");
  EXPECT_EQ(e[2].key, "c");
  EXPECT_EQ(e[2].line, 3);
  EXPECT_EQ(e[3].value, "./data/x y.gz");
  EXPECT_EQ(e[4].Where(), "t.conf:5");
}

TEST(Config, ErrorsNameFileAndLine) {
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\nb\n", "x.conf"); }).find("x.conf:2: expected '=' after 'b'"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = \"open\n", "x.conf"); }).find("x.conf:1: unterminated"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("= 3\n", "x.conf"); }).find("x.conf:1"), std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a =\n", "x.conf"); }).find("expected a value"), std::string::npos);
  EXPECT_NE(test::ErrorOf([] { config::ParseConfigFile("/no/such.conf"); }).find("/no/such.conf"),
            std::string::npos);
}

TEST(NetConfig, LayerFormsAndErrors) {
  const char* text =
      "input_shape = 1,1,8\nbatch_size = 4\neta = 0.2\n"
      "netconfig = start\n"
      "layer[0->1] = fullc:fc1\n  nhidden = 6\n  lr = 0.5\n"
      "layer[+0] = relu\n"
      "layer[+1:h2] = fullc:fc2\n  nhidden = 3\n"
      "layer[h2->h2] = softmax\n"
      "netconfig = end\n";
  const auto nc = config::NetFromConfig(ParseConfig(text, "n.conf"));
  EXPECT_EQ(nc.spec.input_shape, Shape4(4, 1, 1, 8));
  ASSERT_EQ(nc.spec.layers.size(), 4u);
  EXPECT_EQ(nc.spec.layers[0].in, std::vector<std::string>{"in"});
  EXPECT_EQ(nc.spec.layers[1].out, std::vector<std::string>{"1"});  // in place
  EXPECT_EQ(nc.spec.layers[2].out, std::vector<std::string>{"h2"});
  EXPECT_EQ(nc.spec.layers[3].out, std::vector<std::string>{"h2'"});  // softmax cannot run in place
  EXPECT_EQ(nc.updater, (std::vector<std::pair<std::string, std::string>>{{"lr", "0.2"}, {"fc1:lr", "0.5"}}));
  nn::Net<cpu> net(nc.spec);
  EXPECT_EQ(net.Output().shape, Shape4(4, 1, 1, 3));

  auto err = [](const std::string& t) {
    return test::ErrorOf([&] { config::NetFromConfig(ParseConfig(t, "e.conf")); });
  };
  EXPECT_NE(err("input_shape = 1,1,8\nnetconfig = start\nlayer[0->1] = fullc\n  nhiden = 3\nnetconfig = end\n")
                .find("e.conf:4: unknown key 'nhiden'"),
            std::string::npos);
  EXPECT_NE(err("netconfig = start\nlayer[0->1] = fulc\nnetconfig = end\n").find("known types"), std::string::npos);
  EXPECT_NE(err("input_shape = 1,1,8\nnetconfig = start\nlayer[0->1] = relu\n").find("e.conf:2: netconfig = start is never closed"),
            std::string::npos);
  EXPECT_NE(err("netconfig = start\n nhidden = 3\nnetconfig = end\n").find("e.conf:2: key 'nhidden' before the first layer"),
            std::string::npos);
  EXPECT_NE(err("netconfig = start\nlayer[0] = relu\nnetconfig = end\n").find("e.conf:2"), std::string::npos);
  EXPECT_NE(err("input_shape = 1,8\n").find("e.conf:1: input_shape must be c,h,w"), std::string::npos);
}

// cxxnet's own MNIST configs build their networks with hand-computed parameter counts.
TEST(NetConfig, CxxnetMnistConfigs) {
  const std::string dir = std::string(UMBRA_SHARED_DIR) + "/compat/cxxnet/";
  if (!std::filesystem::exists(dir + "MNIST.conf")) GTEST_SKIP() << "no " << dir;
  {
    const auto nc = config::NetFromConfig(config::ParseConfigFile(dir + "MNIST_CONV.conf"));
    nn::Net<cpu> net(nc.spec);
    EXPECT_EQ(net.Output().shape, Shape4(100, 1, 1, 10));
    // conv 3x3x1 -> 32 (+bias); pool 14 -> 7 (ceil: (14-3+1)/2+1 = 7); fc 32*7*7 -> 100 -> 10.
    EXPECT_EQ(net.NumParams(), (9 * 32 + 32) + (32 * 7 * 7 * 100 + 100) + (100 * 10 + 10));
  }
  {
    const auto nc = config::NetFromConfig(config::ParseConfigFile(dir + "MNIST.conf"));
    nn::Net<cpu> net(nc.spec);
    EXPECT_EQ(net.Output().shape[3], 10);
    EXPECT_EQ(net.NumParams(), (784 * 100 + 100) + (100 * 10 + 10));
  }
}

}  // namespace
}  // namespace umbra
