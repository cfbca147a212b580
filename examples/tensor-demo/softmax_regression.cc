// The tensor demo: softmax regression on Fashion-MNIST written purely in umbra tensor
// expressions (no layers, no autograd): the forward pass, the gradient and the SGD-momentum
// update are each one or two statements. Reads Debian's dataset-fashion-mnist by default.
//   build/examples/softmax_regression [--data DIR] [--epochs N] [--batch B] [--lr LR]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include "umbra/io/mnist.h"
#include "umbra/tensor.h"

using namespace umbra;

namespace {

struct DataSet {
  TensorContainer<cpu, 2> images;  // (n, 784), scaled to [0, 1]
  TensorContainer<cpu, 1> labels;  // (n), class index as float
};

DataSet Load(const std::string& dir, const std::string& prefix) {
  const auto img = io::ReadIdx(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const auto lab = io::ReadIdx(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  UMBRA_CHECK(img.dims.size() == 3 && lab.dims.size() == 1 && img.dims[0] == lab.dims[0],
              "'", dir, "/", prefix, "': images and labels disagree on the number of examples");
  const index_t n = img.dims[0], d = index_t(img.dims[1]) * img.dims[2];
  DataSet s{TensorContainer<cpu, 2>(Shape2(n, d)), TensorContainer<cpu, 1>(Shape1(n))};
  for (index_t i = 0; i < n * d; ++i) s.images.dptr_[i] = img.bytes[i] / 255.0f;
  for (index_t i = 0; i < n; ++i) s.labels.dptr_[i] = lab.bytes[i];
  return s;
}

// Fraction of rows whose arg-max equals the label.
double Accuracy(const Tensor<cpu, 2>& prob, const Tensor<cpu, 1>& label) {
  index_t right = 0;
  for (index_t i = 0; i < prob.size(0); ++i) {
    const float* row = prob.dptr_ + i * prob.stride_;
    right += index_t(std::max_element(row, row + prob.size(1)) - row) == index_t(label.dptr_[i]);
  }
  return double(right) / prob.size(0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"umbra tensor demo: softmax regression on Fashion-MNIST"};
  std::string dir = "/usr/share/datasets/fashion-mnist";
  int epochs = 5;  // ~84% test accuracy; softmax regression tops out near 85%
  index_t batch = 100;
  float lr = 0.02f, momentum = 0.9f, wd = 1e-4f;
  app.add_option("--data", dir, "folder with the four *-ubyte.gz files")->capture_default_str();
  app.add_option("--epochs", epochs, "passes over the training set")->capture_default_str();
  app.add_option("--batch", batch, "examples per step")->capture_default_str()->check(CLI::Range(1, 60000));
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    SetFlushDenormals();
    const DataSet train = Load(dir, "train"), test = Load(dir, "t10k");
    const index_t n = train.images.size(0), d = train.images.size(1), k = 10;
    std::printf("Fashion-MNIST: %ld training and %ld test images of %ld pixels; %d threads\n",
                long(n), long(test.images.size(0)), long(d), NumThreads());

    // Model: prob = softmax(x W^T + b). W (10, 784), b (10).
    TensorContainer<cpu, 2> W(Shape2(k, d)), dW(Shape2(k, d), 0.f), vW(Shape2(k, d), 0.f);
    TensorContainer<cpu, 1> b(Shape1(k), 0.f), db(Shape1(k)), vb(Shape1(k), 0.f);
    Random<cpu> rnd(0);
    rnd.SampleGaussian(&W, 0.f, 0.01f);
    TensorContainer<cpu, 2> x(Shape2(batch, d)), out(Shape2(batch, k)), grad(Shape2(batch, k));
    TensorContainer<cpu, 1> y(Shape1(batch));

    std::vector<index_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      for (index_t i = n - 1; i > 0; --i) std::swap(order[i], order[rnd.NextU64() % (i + 1)]);
      double loss = 0;
      for (index_t start = 0; start + batch <= n; start += batch) {
        for (index_t j = 0; j < batch; ++j) {
          Copy(x[j], train.images[order[start + j]]);
          y.dptr_[j] = train.labels.dptr_[order[start + j]];
        }
        out = dot(x.view(), W.view().T());           // (B, 10) logits
        out += repmat(b.view(), batch);
        Softmax(out.view(), out.view());             // probabilities, in place
        for (index_t j = 0; j < batch; ++j)
          loss -= std::log(std::max(out.dptr_[j * k + index_t(y.dptr_[j])], 1e-30f));
        SoftmaxGrad(grad.view(), out.view(), y.view());  // d loss / d logits = prob - onehot
        dW = dot(grad.view().T(), x.view());          // (10, 784)
        db = sum_rows(grad.view());
        // SGD with momentum and weight decay, averaged over the batch: two fused statements.
        vW = vW * momentum - (dW / float(batch) + W * wd) * lr;
        W += vW;
        vb = vb * momentum - db * (lr / float(batch));
        b += vb;
      }
      // Test accuracy: one product over the whole test set.
      TensorContainer<cpu, 2> tout(Shape2(test.images.size(0), k));
      tout = dot(test.images.view(), W.view().T());
      tout += repmat(b.view(), test.images.size(0));
      Softmax(tout.view(), tout.view());
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("epoch %d  train-loss %.4f  test-accuracy %.4f  (%.2f s, %.0f img/s)\n", epoch,
                  loss / (n / batch * batch), Accuracy(tout.view(), test.labels.view()), secs,
                  double(n / batch * batch) / secs);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
