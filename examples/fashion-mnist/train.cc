// Trains the MLP or the LeNet of nets.h on Fashion-MNIST with SGD + momentum, on the CPU, and
// prints per epoch the mean training loss, test accuracy and throughput. The config-file trainer
// (`umbra CONFIG`) is the general front end; this is the C++-builder way of the nn engine.
//   build/examples/train_fashion_mnist --net lenet --epochs 2
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <numeric>

#include "data.h"
#include "nets.h"
#include "umbra/nn/metric.h"
#include "umbra/nn/trainer.h"

using namespace umbra;

int main(int argc, char** argv) {
  CLI::App app{"umbra: train an MLP or LeNet on Fashion-MNIST (CPU)"};
  std::string net_name = "lenet", dir = examples::kFashionDir;
  int epochs = 2;
  index_t batch = 100, limit = 0;
  float lr = 0.05f, momentum = 0.9f, wd = 1e-4f;
  uint64_t seed = 0;
  app.add_option("--net", net_name, "mlp or lenet")->check(CLI::IsMember({"mlp", "lenet"}))->capture_default_str();
  app.add_option("--epochs", epochs, "passes over the training set")->capture_default_str();
  app.add_option("--batch", batch, "batch size")->check(CLI::Range(1, 60000))->capture_default_str();
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  app.add_option("--momentum", momentum, "momentum")->capture_default_str();
  app.add_option("--wd", wd, "weight decay")->capture_default_str();
  app.add_option("--limit", limit, "use only the first N training images (0: all)");
  app.add_option("--seed", seed, "seed of weights and shuffling")->capture_default_str();
  app.add_option("--data", dir, "folder of the *-ubyte.gz files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    SetFlushDenormals();
    const auto train = examples::LoadFashion(dir, "train", limit), test = examples::LoadFashion(dir, "t10k");
    nn::NetSpec spec = net_name == "mlp" ? examples::MlpSpec(batch) : examples::LeNetSpec(batch);
    spec.seed = seed;
    nn::UpdaterSettings us;
    us.Set("lr", std::to_string(lr));
    us.Set("momentum", std::to_string(momentum));
    us.Set("wd", std::to_string(wd));
    us.Set("bias:wd", "0");
    nn::Trainer<cpu> trainer(spec, us);
    std::printf("%s: %ld parameters, %ld training images, batch %ld, %d threads\n", net_name.c_str(),
                long(trainer.net().NumParams()), long(train.size()), long(batch), NumThreads());

    TensorContainer<cpu, 4> x(spec.input_shape);
    TensorContainer<cpu, 2> y(Shape2(batch, 1));
    std::vector<index_t> order(train.size());
    std::iota(order.begin(), order.end(), 0);
    Random<cpu> shuffle(seed + 1);
    const index_t per_image = 784;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      for (index_t i = index_t(order.size()) - 1; i > 0; --i)
        std::swap(order[i], order[shuffle.NextU64() % (i + 1)]);
      double loss = 0;
      index_t steps = 0;
      for (index_t s = 0; s + batch <= train.size(); s += batch, ++steps) {
        for (index_t j = 0; j < batch; ++j) {
          std::copy_n(train.images.dptr_ + order[s + j] * per_image, per_image, x.dptr_ + j * per_image);
          y.dptr_[j] = train.labels.dptr_[order[s + j]];
        }
        loss += trainer.Step(x.view(), y.view());
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      nn::Metric err("error");
      for (index_t s = 0; s < test.size(); s += batch) {
        const index_t valid = std::min(batch, test.size() - s);
        x = 0.f;
        std::copy_n(test.images.dptr_ + s * per_image, valid * per_image, x.dptr_);
        const auto& out = trainer.Predict(x.view());
        err.Add(out.Mat(), test.labels.view().Slice(s, s + valid), valid);
      }
      std::printf("epoch %d  train-loss %.4f  test-accuracy %.4f  %.1f s  %.0f img/s\n", epoch,
                  loss / std::max<index_t>(steps, 1), 1 - err.Get(), secs, steps * batch / secs);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
