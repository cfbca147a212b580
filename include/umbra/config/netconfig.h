// The `netconfig = start ... netconfig = end` section of a cxxnet config as a NetSpec:
//   layer[a->b] = type[:name]     layer[a,b->c], layer[a->b,c], layer[+1], layer[+1:node], layer[+0]
// followed by that layer's keys. Node "0" is the data node ("in"). Keys a layer does not declare
// but an updater does (lr, eta, wd, momentum, ...) become per-layer updater overrides; anything
// else is an error naming file:line. cxxnet wrote in-place loss layers (layer[6->6] = softmax);
// a layer that cannot run in place gets a fresh output node instead, which means the same.
// Global keys used here: input_shape (c,h,w) and batch_size.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "umbra/config/config.h"
#include "umbra/nn/net.h"

namespace umbra::config {

struct NetConfig {
  nn::NetSpec spec;
  /// Updater keys: global ones as given, per-layer ones as "layer:key".
  std::vector<std::pair<std::string, std::string>> updater;
};

/// Builds the net description; `batch` is used when the config has no batch_size.
NetConfig NetFromConfig(const std::vector<Entry>& entries, index_t batch = 100);

}  // namespace umbra::config
