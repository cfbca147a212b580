// The reference networks of the Fashion-MNIST examples and benchmarks, built in C++ (the config
// files of the trainer describe the same nets):
//   MLP   784-512-512-10: fullc-relu-fullc-relu-fullc-softmax, input (N, 1, 1, 784)
//   LeNet conv5x5x32-relu-maxpool2-conv5x5x64-relu-maxpool2-fc100-relu-fc10-softmax, (N, 1, 28, 28)
#pragma once

#include <string>

#include "umbra/nn/net.h"

namespace examples {

inline umbra::nn::LayerSpec L(std::string type, std::string name, std::string in, std::string out,
                              std::vector<std::pair<std::string, std::string>> kv = {}) {
  return umbra::nn::LayerSpec{std::move(type), std::move(name), {std::move(in)}, {std::move(out)},
                              std::move(kv)};
}

inline umbra::nn::NetSpec MlpSpec(umbra::index_t batch) {
  umbra::nn::NetSpec s;
  s.input_shape = umbra::Shape4(batch, 1, 1, 784);
  s.defaults = {{"init", "kaiming"}};
  s.layers = {L("fullc", "fc1", "in", "h1", {{"nhidden", "512"}}), L("relu", "relu1", "h1", "h1"),
              L("fullc", "fc2", "h1", "h2", {{"nhidden", "512"}}), L("relu", "relu2", "h2", "h2"),
              L("fullc", "fc3", "h2", "h3", {{"nhidden", "10"}, {"init", "xavier"}}),
              L("softmax", "loss", "h3", "prob")};
  return s;
}

inline umbra::nn::NetSpec LeNetSpec(umbra::index_t batch) {
  umbra::nn::NetSpec s;
  s.input_shape = umbra::Shape4(batch, 1, 28, 28);
  s.defaults = {{"init", "kaiming"}};
  s.layers = {
      L("conv", "conv1", "in", "c1", {{"nchannel", "32"}, {"kernel_size", "5"}}),
      L("relu", "relu1", "c1", "c1"),
      L("max_pooling", "pool1", "c1", "p1", {{"kernel_size", "2"}, {"stride", "2"}}),
      L("conv", "conv2", "p1", "c2", {{"nchannel", "64"}, {"kernel_size", "5"}}),
      L("relu", "relu2", "c2", "c2"),
      L("max_pooling", "pool2", "c2", "p2", {{"kernel_size", "2"}, {"stride", "2"}}),
      L("flatten", "flat", "p2", "f"),
      L("fullc", "fc1", "f", "h1", {{"nhidden", "100"}}),
      L("relu", "relu3", "h1", "h1"),
      L("fullc", "fc2", "h1", "h2", {{"nhidden", "10"}, {"init", "xavier"}}),
      L("softmax", "loss", "h2", "prob")};
  return s;
}

}  // namespace examples
