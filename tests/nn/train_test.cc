// Training on real data: the MLP and the LeNet of the examples on a subset of Debian's
// Fashion-MNIST; the loss must fall and the test accuracy pass a fixed bar. Skips when the
// dataset package is missing (scripts/setup installs it).
#include <filesystem>

#include "../../examples/fashion-mnist/data.h"
#include "../../examples/fashion-mnist/nets.h"
#include "harness/tensor_util.h"
#include "umbra/nn/metric.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

double TrainAndTest(nn::NetSpec spec, index_t n_train, int epochs, double* first_loss, double* last_loss) {
  const auto train = examples::LoadFashion(examples::kFashionDir, "train", n_train);
  const auto test = examples::LoadFashion(examples::kFashionDir, "t10k", 1000);
  const index_t b = spec.input_shape[0];
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  nn::Trainer<cpu> trainer(spec, us);
  auto batch = [&](const examples::DataSet& d, index_t s) {
    return Tensor<cpu, 4>(d.images.dptr_ + s * 784, spec.input_shape);
  };
  for (int e = 0; e < epochs; ++e) {
    double loss = 0;
    index_t steps = 0;
    for (index_t s = 0; s + b <= train.size(); s += b, ++steps)
      loss += trainer.Step(batch(train, s), train.labels.view().Slice(s, s + b));
    if (e == 0) *first_loss = loss / steps;
    *last_loss = loss / steps;
  }
  nn::Metric err("error");
  for (index_t s = 0; s + b <= test.size(); s += b)
    err.Add(trainer.Predict(batch(test, s)).Mat(), test.labels.view().Slice(s, s + b));
  return 1 - err.Get();
}

class TrainFashion : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(examples::kFashionDir) + "/train-images-idx3-ubyte.gz"))
      GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/setup installs it)";
  }
};

TEST_F(TrainFashion, MlpLearns) {
  double l0 = 0, l1 = 0;
  const double acc = TrainAndTest(examples::MlpSpec(50), 3000, 3, &l0, &l1);
  EXPECT_LT(l1, l0 * 0.8) << "loss " << l0 << " -> " << l1;
  EXPECT_GT(acc, 0.75);
}

TEST_F(TrainFashion, LeNetLearns) {
  double l0 = 0, l1 = 0;
  const double acc = TrainAndTest(examples::LeNetSpec(50), 2000, 2, &l0, &l1);
  EXPECT_LT(l1, l0 * 0.8) << "loss " << l0 << " -> " << l1;
  EXPECT_GT(acc, 0.70);
}

}  // namespace
}  // namespace umbra
