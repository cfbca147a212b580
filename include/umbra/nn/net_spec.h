// NetSpec: the description a Net is built from (layers by type, name, input and output nodes and
// keys, the input shape, and the net-wide choices: memory sharing, channels-last, bf16
// activations, relu fusion), and SetKeyWhereTaken, which sets a key on the layers that take it.
// The config parser (config/netconfig.h) produces one; tests and benchmarks build them in C++.
// The Net itself: net.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "umbra/nn/registry.h"

namespace umbra::nn {

struct LayerSpec {
  std::string type, name;
  std::vector<std::string> in, out;
  std::vector<std::pair<std::string, std::string>> params;
  /// Where it was declared ("file:line" of a config), put before the net's errors about it;
  /// empty for a net built in code.
  std::string where;
};

struct NetSpec {
  std::vector<LayerSpec> layers;
  /// Shape of the data node "in": (batch, C, H, W), held as (batch, H, W, C) with
  /// input_channels_last.
  Shape<4> input_shape;
  /// A net for prediction only: node values share buffers where their lifetimes allow, there
  /// are no gradients, and Backward is an error.
  bool inference_only = false;
  /// Further data nodes by name and shape (cxxnet's extra_data), fed through Forward's `extra`.
  std::vector<std::pair<std::string, Shape<4>>> extra_inputs;
  /// Nodes whose values must stay readable after a step (metrics or extract read them); the
  /// last layer's outputs and loss layers' outputs always do. Other values share buffers once
  /// nothing reads them any more (Net::PlanMemory).
  std::vector<std::string> keep_values;
  /// "file:line" of the config line that asks for keep_values[i] (a metric, extract_node_name),
  /// put before the error when no node has that name; an entry empty for none. Read only when it
  /// is as long as keep_values (Keep keeps the two in step; a keep_values assigned whole leaves
  /// it unread).
  std::vector<std::string> keep_where;
  /// Adds `node` to keep_values, asked for at `where`.
  void Keep(const std::string& node, const std::string& where) {
    keep_where.resize(keep_values.size());
    keep_values.push_back(node);
    keep_where.push_back(where);
  }
  /// false: every node keeps its own value and gradient buffer, nothing is shared or aliased
  /// (the plain layout: a reference for tests, and a way to rule the planner out).
  bool share_memory = true;
  /// Initial weights drawn by a batch-2 net on the host and copied in, as GPU nets always do
  /// (so that one seed starts the cpu and the gpu alike); on the cpu it tests that path.
  bool weights_from_host = false;
  /// Channels-last: layers that prefer (N, H, W, C) nodes get them (cuDNN convolutions and
  /// pooling on the GPU; Layer::ChannelsLast), those that work either way (activations, batch
  /// norm, sums, dropout, split, ch_concat) keep what they get, and the rest get (N, C, H, W): the net
  /// inserts a to_nhwc / to_nchw layer (node "name@nhwc" / "name@nchw") where the layout
  /// changes. A channels-last node's shape is (N, H, W, C). Weights keep one layout either way.
  /// Nodes read after a pass (the last layer's, loss layers', keep_values) stay (N, C, H, W).
  bool channels_last = false;
  /// With channels_last: the input "in" arrives channels-last, (N, H, W, C), made that way by
  /// the caller (as PyTorch's channels-last runs make their batch) instead of converted by the
  /// net. No to_nhwc copy of it then: for an ImageNet batch of 128 that copy is 74 MiB, held
  /// through the step for the first convolution's backward, and a pass over it each step.
  /// input_shape stays (N, C, H, W); Forward takes (N, H, W, C). A layer that takes
  /// (N, C, H, W) gets a to_nchw copy of it, as of any channels-last node.
  bool input_channels_last = false;
  /// GPU float nets: activations (node values and gradients) in bfloat16 between the layers
  /// that take them (Layer::TakesBF16: dtype=bf16 cuDNN convolutions; max and avg pooling;
  /// batch norm; lrn; cuDNN's activations; eltwise_sum, split and the concatenations), as PyTorch's
  /// bf16 autocast keeps its activations: half the bytes of each pass over them and of their
  /// storage, and no casts into and out of each convolution. A to_bf16 / to_fp32 layer (node
  /// "name@bf16" / "name@fp32") converts where float and bf16 layers meet. The last layer's
  /// outputs, loss layers' and keep_values nodes are float.
  bool bf16_nodes = false;
  /// A relu whose input only it reads goes into the layer that produced that input where that
  /// layer can apply it in its own pass (Layer::FuseRelu: batch_norm on the expression path,
  /// eltwise_sum, fullc, conv but on oneDNN): a pass over the values fewer, and a kernel launch
  /// fewer each way.
  /// The relu layer is then absent from the net and its output node is the producer's; a node
  /// named in keep_values is never fused away. false, or share_memory false (whose promise is a
  /// value of its own for every node): every relu runs as written.
  bool fuse_relu = true;
  /// A two-input eltwise_sum whose input was written by the layer just before it, and is read
  /// by nothing else, goes into that layer where it can add the other input in its own pass
  /// (Layer::FuseAdd: batch_norm on the expression path; a ResNet block's last batch norm and
  /// its shortcut): the sum's pass and its node's write and read fewer. The sum layer is then
  /// absent, its output node is the producer's, and a relu after it fuses into the producer
  /// too. Like fuse_relu: never across a keep_values node; off, or share_memory off: every sum
  /// runs as written.
  bool fuse_add = true;
  /// Keys applied to every layer that declares them (e.g. init), before its own keys.
  std::vector<std::pair<std::string, std::string>> defaults;
  uint64_t seed = 0;
};

/// Sets `key = value` on every layer of `spec` whose type (as registered for xpu, DType) takes
/// that value, replacing the layer's own setting; others are left alone. Returns the names of
/// the layers set. E.g. algo = expr: umbra's own kernels wherever a layer would use cuDNN's,
/// convolutions aside (their algo takes other values). A non-empty only_type limits it to the
/// layers of that type (algo = expr on the batch norms alone).
template <typename xpu, typename DType = float>
std::vector<std::string> SetKeyWhereTaken(NetSpec& spec, const std::string& key, const std::string& value,
                                          std::string_view only_type = {}) {
  std::vector<std::string> set;
  for (LayerSpec& l : spec.layers) {
    if (!only_type.empty() && l.type != only_type) continue;
    try {  // a type the registry does not make (share) or a value the type rejects: skipped
      if (!LayerRegistry<xpu, DType>::Get().Create(l.type)->SetParam(key, value)) continue;
    } catch (const Error&) {
      continue;
    }
    std::erase_if(l.params, [&](const auto& kv) { return kv.first == key; });
    l.params.push_back({key, value});
    set.push_back(l.name);
  }
  return set;
}

}  // namespace umbra::nn
