// The benchmark nets, by name, for bench_train (cpu) and bench_train_gpu: lenet and mlp from the
// Fashion-MNIST examples (batch 100); cifar (Caffe's CIFAR-10 quick), alexnet, resnet18 and
// resnet50 from examples/configs (batch 128), the layouts bench/train_torch.py writes for PyTorch.
#pragma once

#include <string>
#include <vector>

#include "../examples/fashion-mnist/nets.h"
#include "umbra/config/netconfig.h"

namespace umbra::bench {

inline const std::vector<std::string>& NetNames() {
  static const std::vector<std::string> names{"lenet", "mlp", "cifar", "alexnet", "resnet18", "resnet50"};
  return names;
}

inline nn::NetSpec NetByName(const std::string& name, const std::string& configs) {
  if (name == "lenet") return examples::LeNetSpec(100);
  if (name == "mlp") return examples::MlpSpec(100);
  const index_t batch = 128;
  const std::string file = configs + "/" + (name == "cifar" ? std::string("cifar10_quick") : name) + ".conf";
  nn::NetSpec s = config::NetFromConfig(config::ParseConfigFile(file), batch).spec;
  s.input_shape[0] = batch;
  return s;
}

}  // namespace umbra::bench
