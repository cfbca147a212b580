// The `netconfig = start ... netconfig = end` section of a cxxnet config as a NetSpec:
//   layer[a->b] = type[:name]     layer[a,b->c], layer[a->b,c], layer[+1], layer[+1:node], layer[+0]
//   layer[a->b] = share[name]     (applies the earlier layer `name` again, with its weights)
// followed by that layer's keys (a repeated key: the last wins). Node "0" is the data node ("in").
// Keys a layer does not declare but an updater does (lr, eta, wd, momentum, ...) become per-layer
// updater overrides; anything else is an error naming file:line. cxxnet wrote in-place loss
// layers (layer[6->6] = softmax); a layer that cannot run in place gets a fresh output node
// instead, which means the same. Outside netconfig, as cxxnet: input_shape (c,h,w), batch_size,
// extra_data_num / extra_data_shape[k]; updater keys; keys some layer declares (random_type,
// init_sigma, ...) become defaults for every layer; iterator blocks (data|eval|pred = ... iter =
// end) and every other key (metric[...], dev, task, ...) are the trainer's and are skipped here.
#pragma once

#include <set>
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
  /// Where each of `updater` was given ("file:line"), for messages.
  std::vector<std::string> updater_where;
  /// Keys of spec.defaults that reach no layer of this net (none takes them, or each that does
  /// sets its own): noted when built; no part of what the net computes.
  std::set<std::string> idle_defaults;
  /// Layers the config gave no name (named TYPE_INDEX here): finetune copies none of their
  /// weights, as cxxnet's copied named layers only (an unnamed classifier starts afresh).
  std::set<std::string> unnamed;
};

/// Builds the net description; `batch` is used when the config has no batch_size. Errors (an
/// unknown layer type, key or node, a bad value, a malformed declaration) name file:line; shape
/// errors come from nn::Net's construction and name the layer and its file:line (LayerSpec::where).
NetConfig NetFromConfig(const std::vector<Entry>& entries, index_t batch = 100);

/// Every key a layer type or the updater takes ("eta" too): what a global key may set besides
/// the trainer's and the iterators' own, for suggestions where one is unknown.
std::vector<std::string> LayerAndUpdaterKeys();

}  // namespace umbra::config
