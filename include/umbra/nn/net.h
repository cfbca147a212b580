// Net: a DAG of layers over named nodes, built from a description (NetSpec, net_spec.h; the config
// parser of the trainer produces one, tests and examples build it in C++). Layers run in the
// order given; each input node must exist already ("in" is the data node). A node is produced
// once, except by in-place layers (in == out), and may feed ONE layer (cxxnet's rule: fan-out
// needs `split`, so that every gradient has one writer). Shapes are inferred on construction,
// errors name the layer. Weights are visited as "layer_name.tag". A layer of type "share" with
// key source=<name> applies an earlier layer again with the same weights (cxxnet's
// share[name]). Not here: updaters (updater.h), data, model files.
// Memory: a node's value lives from its producer to its last reader (a later forward, or a
// backward that declares it reads it), its gradient between the backward of its consumer and of
// its producer; values and gradients whose lifetimes do not overlap share one buffer
// (PlanMemory). What must be read after a step: the output, loss outputs, NetSpec::keep_values.
// The longer members are defined in net_build-inl.h (the constructor; layout, bf16 and fusion
// choices), net_memory-inl.h (the memory plan) and net_messages-inl.h (what errors and hints
// say).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "umbra/nn/arena_plan.h"
#include "umbra/nn/net_spec.h"
#include "umbra/nn/pass_scratch.h"
#include "umbra/nn/profiler.h"
#include "umbra/nn/registry.h"
#include "umbra/parse.h"
#include "umbra/suggest.h"
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include "umbra/tensor/cuda/allocator.h"  // PlanScratch: not while a graph is captured
#endif

namespace umbra::nn {

template <typename xpu, typename DType = float>
class Net {
 public:
  using NodeT = Node<xpu, DType>;

  /// Builds the net from its spec (net_build-inl.h): the inputs, then the layers in declaration
  /// order with their layouts, storage, conversions and fused relus and sums; the weights (drawn,
  /// or the host net's), then the nodes (the memory plan); shared weights checked, and every
  /// weight reaching a loss. A layer's error is thrown at its declaration (AtDeclaration).
  explicit Net(const NetSpec& spec);

  /// What the net noticed when built and a user should hear (a layer key without effect); the
  /// caller prints them (the CLI, when training).
  const std::vector<std::string>& notes() const { return notes_; }
  /// Whether some layer is a loss layer (training needs one).
  bool has_loss() const { return has_loss_; }
  /// Where the last layer declared is no loss layer but an earlier one is (a branch declared
  /// after the loss): "file:line: layer 'p' (max_pooling) comes after the loss layer ...", naming
  /// both; else "". Output() is that layer's: metrics that read it scored pooled pixels.
  std::string OutputPastTheLoss(const NetSpec& spec) const;

  /// Forward over the whole net. `input` must have the input shape; `label` (N, width) is
  /// required by loss layers in training and optional otherwise. The net reads a dense input
  /// (and extra inputs) in place, without a copy: keep it unchanged until Backward has run.
  void Forward(bool is_train, const Tensor<xpu, 4, DType>& input,
               const Tensor<xpu, 2, DType>* label = nullptr,
               const std::vector<Tensor<xpu, 4, DType>>& extra = {}) {
    UMBRA_CHECK(input.shape_ == nodes_[0]->shape, "input of shape ", input.shape_,
                " does not match the net's input shape ", nodes_[0]->shape);
    // Without labels a loss layer computes no loss, and its Backward would use the last ones.
    UMBRA_CHECK(label || !is_train || !has_loss_, "a training forward needs the batch's labels");
    UMBRA_CHECK(extra.size() + 1 == num_inputs_, "the net has ", num_inputs_ - 1,
                " extra input(s) but ", extra.size(), " were given");
    // A Backward reads this pass's values and labels: one without labels (a prediction), after
    // a forward that failed part-way, or a second Backward would run on the last labels or on
    // values a Backward rewrote in place. Set once the pass is whole.
    backward_ready_ = false;
    SetInput(0, input);
    for (size_t k = 0; k < extra.size(); ++k) {
      UMBRA_CHECK(extra[k].shape_ == nodes_[k + 1]->shape, "extra input ", k + 1, " of shape ",
                  extra[k].shape_, " does not match its declared shape ", nodes_[k + 1]->shape);
      SetInput(k + 1, extra[k]);
    }
    if (marks_) marks_->Mark();
    ForwardContext<xpu, DType> ctx;
    ctx.is_train = is_train;
    ctx.label = label;
    ctx.rnd = &rnd_;
    for (size_t i = 0; i < layers_.size(); ++i) {
      Entry& e = layers_[i];
      if (e.shares >= 0) PullShared(i);
      // Without labels (prediction) a loss layer gives its output and no loss: a zero label of
      // width 1 stood in, and l2_loss with 3 outputs refused it.
      try {
        const PassScratch::Lend lend = Gap(i, /*backward=*/false);
        e.layer->Forward(ctx, Ptrs(e.in), Ptrs(e.out));
      } catch (const Error& err) {
        throw InLayer(*e.layer, "forward", err);
      }
      if (marks_) marks_->Mark();
    }
    backward_ready_ = label != nullptr;
  }
  /// Backward from the loss layers; weight gradients accumulate until the updater clears them.
  void Backward() {
    UMBRA_CHECK(has_loss_, "Backward needs a loss layer (softmax, l2_loss, ...) in the network");
    UMBRA_CHECK(!inference_only_, "Backward on a net built with inference_only");
    UMBRA_CHECK(backward_ready_, "Backward needs a Forward given the batch's labels since the last Backward");
    backward_ready_ = false;
    for (size_t i = layers_.size(); i-- > 0;) {
      Entry& e = layers_[i];
      try {
        const PassScratch::Lend lend = Gap(i, /*backward=*/true);
        e.layer->Backward(e.prop, Ptrs(e.in), Ptrs(e.out));
      } catch (const Error& err) {
        throw InLayer(*e.layer, "backward", err);
      }
      if (e.shares >= 0) PushSharedGrad(i);
      if (marks_) marks_->Mark();
    }
    if (!scratch_planned_) PlanScratch();
  }
  /// Checks a batch's labels (N, width), on the host, against every loss layer
  /// (Layer::LabelProblem) before they reach the device; index[i], where given, is sample i's
  /// instance in the data (DataBatch::index), named in the error, with `locate(index[i])` where
  /// given and not empty (the data iterator's Locate: "bad.csv:6").
  void CheckLabels(const Tensor<cpu, 2, float>& label, const std::vector<uint64_t>& index = {},
                   const std::function<std::string(uint64_t)>& locate = {}) const {
    for (const Entry& e : layers_) {
      if (!e.layer->IsLoss()) continue;
      for (index_t i = 0; i < label.size(0); ++i) {
        const std::string problem = e.layer->LabelProblem(label[i].dptr_, label.size(1));
        if (problem.empty()) continue;
        const std::string at = i < index.size() && locate ? locate(index[i]) : "";
        UMBRA_THROW(e.layer->Describe(), ": sample ", i,
                    i < index.size() ? " (" + InstanceOfTheData(index[i], at) + ")" : "",
                    ": ", problem);
      }
    }
  }
  /// Reseeds the net's random numbers (dropout); the trainer does so per round, so that a
  /// resumed run draws what an uninterrupted one would.
  void SeedRandom(uint64_t seed) { rnd_.Seed(seed); }
  /// Draws from the net's random generator so far that a CUDA graph's replay would repeat (on
  /// the gpu: normal numbers; dropout's and rrelu's uniform ones are graph-safe, random.h): a
  /// training step that draws any is not replayed from a graph.
  uint64_t RandomDraws() const { return rnd_.draws(); }
  /// Sum of the loss layers' mean losses from the last Forward with labels (one without, an
  /// evaluation or prediction, computes none).
  double Loss() const {
    double s = 0;
    for (auto& e : layers_)
      if (e.layer->IsLoss()) s += e.layer->Loss();
    return s;
  }
  /// The same sum written into `slot` (one element, on this net's device) by the device itself,
  /// without waiting for it: a training loop reads many steps' losses in one copy. Sums in
  /// DType (Loss() sums per-sample losses in double on the host).
  void LossTo(Tensor<xpu, 1, DType> slot) {
    UMBRA_CHECK(slot.shape_[0] == 1, "Net::LossTo: the slot must hold one value, not ", slot.shape_);
    bool first = true;
    for (auto& e : layers_) {
      if (!e.layer->IsLoss()) continue;
      const Tensor<xpu, 1, DType> l = e.layer->PerSampleLoss();
      const index_t n = l.shape_[0];
      UMBRA_CHECK(n > 0 && l.dptr_, e.layer->Describe(), ": no per-sample losses to read (Forward with labels first)");
      // (N) as (1, N), summed over N: one reduction kernel on the gpu.
      const auto mean = sumall_except_dim<0>(l.View(Shape2(1, n))) * (DType(1) / DType(n));
      if (first) slot = mean;
      else slot += mean;
      first = false;
    }
    if (first) slot = DType(0);
  }
  /// Visits every weight as "layer_name.tag".
  void VisitWeights(const WeightVisitor<xpu, DType>& v) {
    for (auto& e : layers_) {
      if (e.shares >= 0) continue;  // a share layer's weights are its source's
      const std::string prefix = e.layer->name() + ".";
      e.layer->VisitWeights([&](const std::string& tag, Tensor<xpu, 2, DType> w,
                                Tensor<xpu, 2, DType> g) { v(prefix + tag, w, g); });
    }
  }
  /// Number of trainable weights (moving statistics excluded).
  index_t NumParams() {
    index_t n = 0;
    VisitWeights([&](const std::string& name, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType>) {
      if (name.find(".moving_") == std::string::npos) n += w.Size();
    });
    return n;
  }
  /// The output of the last layer (probabilities for a softmax net).
  const NodeT& Output() const { return *Float(layers_.back().out[0]); }
  /// For a name that is no node: the node a layer of that name writes, or the nodes there are.
  /// A node later layers rewrite in place (fc1's, then relu r1's) holds what the last leaves:
  /// said, since the hint's node gave r1's output to one asking for fc1's.
  std::string NodeHint(const NetSpec& spec, const std::string& k) const;
  const NodeT& NodeByName(const std::string& n) const {
    auto it = node_index_.find(n);
    UMBRA_CHECK(it != node_index_.end(), "no node named '", n, "'");
    return *Float(it->second);
  }
  /// Whether node `n` holds bfloat16 values and gradients (NetSpec::bf16_nodes).
  bool NodeIsBF16(const std::string& n) const {
    auto it = node_index_.find(n);
    return it != node_index_.end() && IsBF16(it->second);
  }
  bool HasNode(const std::string& n) const { return node_index_.count(n) != 0; }
  /// Marks the end of the input copy, of each layer's forward and of each layer's backward
  /// (profiler.h); nullptr (the default) marks nothing.
  void set_marks(StepMarks<xpu>* m) { marks_ = m; }
  /// Per layer, in forward order: name, type and the bytes of node values, gradients and
  /// weights it reads and writes at least once (times are filled in by the profiler).
  std::vector<LayerProfile> ProfileRows() {
    std::vector<LayerProfile> rows;
    for (auto& e : layers_) {
      LayerProfile r;
      r.name = e.layer->name();
      r.type = e.layer->Type();
      double in = 0, out = 0, w = 0;  // bytes of one value (or gradient) each
      for (int i : e.in) in += double(StoredElements(i)) * sizeof(DType);
      for (int i : e.out) out += double(StoredElements(i)) * sizeof(DType);
      e.layer->VisitWeights([&](const std::string&, Tensor<xpu, 2, DType> a, Tensor<xpu, 2, DType>) {
        w += double(a.Size()) * sizeof(DType);
      });
      r.fwd_bytes = in + out + w;          // read inputs and weights, write outputs
      r.bwd_bytes = 2 * in + out + 2 * w;  // + output gradients, input and weight gradients
      rows.push_back(r);
    }
    return rows;
  }
  Layer<xpu, DType>& LayerAt(size_t i) {
    UMBRA_CHECK(i < layers_.size(), "layer index ", i, " of a net of ", layers_.size(), " layers");
    return *layers_[i].layer;
  }
  size_t NumLayers() const { return layers_.size(); }
  /// Elements of node storage (values and gradients) actually allocated, the passes' scratch
  /// planned into the arena after the first training step included (PlanScratch), and what a
  /// value and a gradient buffer per node would take (a value only in an inference-only net).
  index_t NodeElements() const { return node_elements_; }
  /// Node arenas placed so far: 1 after the net is built with share_memory, 2 once the first
  /// training step planned its passes' scratch into it (PlanScratch); 0 without an arena.
  int ArenaPlans() const { return arena_plans_; }
  /// Bytes of the node arena free all through layer l's forward (or backward) pass, which the
  /// pass lends its scratch (PassScratch); 0 without a shared arena.
  size_t GapBytes(size_t l, bool backward) const {
    const size_t s = StepOf(l, backward);
    return s < gaps_.size() ? size_t(gaps_[s].second) * sizeof(DType) : 0;
  }
  index_t NodeElementsUnshared() const {
    index_t n = 0;
    for (auto& node : nodes_) n += node->shape.Size();
    return inference_only_ ? n : 2 * n;
  }

 private:
  // Each default must be a key some layer type takes with that value, as netconfig checks a
  // config's: in a NetSpec built in code a typo (`{"init_sigmaa", "0.1"}`) or a value every type
  // refuses (`{"init", "bogus"}`) was dropped unsaid, and the layers kept their own defaults.
  static void CheckDefaults(const std::vector<std::pair<std::string, std::string>>& defaults) {
    const auto& registry = LayerRegistry<xpu, DType>::Get();
    using Takes = typename LayerRegistry<xpu, DType>::Takes;
    for (const auto& [k, v] : defaults) {
      std::string refused;
      bool taken = false;
      for (const std::string& type : registry.Names()) {
        std::string why;
        const Takes t = registry.Probe(type, k, v, &why);
        if ((taken = t == Takes::kYes)) break;
        if (t == Takes::kRefused && refused.empty()) refused = type + " refuses it: " + why;
      }
      if (taken) continue;
      std::vector<std::string> keys;  // for the suggestion: every type's keys
      if (refused.empty())
        for (const std::string& type : registry.Names())
          for (std::string& n : registry.Create(type)->KeyNames()) keys.push_back(std::move(n));
      UMBRA_THROW("NetSpec defaults: ", k, " = ", v, ": ",
                  refused.empty() ? "no layer type has this key" + DidYouMean(k, keys) : refused);
    }
  }

  struct Entry {
    std::unique_ptr<Layer<xpu, DType>> layer;
    std::vector<int> in, out;
    int shares = -1;  // index of the layer whose weights this one uses (share), or -1
    int spec = -1;    // its layer in the NetSpec (-1: a conversion the net put in)
    bool prop = false;  // its backward passes a gradient on to its inputs (DecideGradients)
  };
  bool IsNhwc(int node) const { return size_t(node) < nhwc_.size() && nhwc_[node]; }
  bool IsBF16(int node) const { return size_t(node) < bf16_.size() && bf16_[node]; }
  bool IsIsland(int node) const { return island_.count(node) != 0; }
  // A net input, or the channels-last copy of one that the net put in (a channels-last net fed
  // (N, C, H, W) input, as the command line's is): where a bf16 stretch may start.
  bool FromNetInput(int node) const {
    if (node < int(num_inputs_)) return true;
    for (const Entry& t : layers_)
      if (t.spec < 0 && t.out.size() == 1 && t.out[0] == node && t.layer->FlipsLayout())
        return t.in.size() == 1 && t.in[0] < int(num_inputs_);
    return false;
  }
  void SetBF16(int node, bool on) {
    if (bf16_.size() <= size_t(node)) bf16_.resize(node + 1, false);
    bf16_[node] = on;
  }
  // The error for node storage that cannot be had, naming `largest` (by default the node of most
  // elements).
  // Named at the declaration of the layer that writes the largest node (nchannel = 10^8 named
  // node '1' alone, no layer or line).
  [[noreturn]] void ThrowForNodes(const NetSpec& spec, const Error& err, int at = -1) const;
  // Refuses, before any weight is allocated, a net whose largest node alone passes the host's
  // memory. Input nodes, and nodes that view them, are the caller's buffers, not the net's.
  void CheckLargestNodeFits(const NetSpec& spec) const {
    std::vector<bool> rewritten;
    const std::vector<int> rep = ViewGroups(&rewritten);
    double largest = 0;
    int at = -1;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const double bytes = double(StoredElements(int(i))) * sizeof(DType);
      if (rep[i] >= int(num_inputs_) && bytes > largest) largest = bytes, at = int(i);
    }
    try {
      detail::CheckHostRoom(largest >= double(SIZE_MAX >> 1) ? SIZE_MAX >> 1 : size_t(largest));
    } catch (const Error& err) {
      ThrowForNodes(spec, err, at);
    }
  }
  // DType elements a node's value (or gradient) takes in the arena: bf16 ones pack two a float.
  index_t StoredElements(int node) const {
    const index_t n = nodes_[node]->shape.Size();
    return IsBF16(node) ? (n * 2 + sizeof(DType) - 1) / sizeof(DType) : n;
  }
  std::string NameOf(int node) const {
    std::string name = "#" + std::to_string(node);
    for (auto& [n, i] : node_index_)
      if (i == node) name = n;
    return name;
  }
  const NodeT* Float(int node) const {
    UMBRA_CHECK(!IsBF16(node), "node '", NameOf(node),
                "' holds bfloat16 values (bf16_nodes): it cannot be read as float");
    return nodes_[node].get();
  }
  void SetNhwc(int node, bool on) {
    if (nhwc_.size() <= size_t(node)) nhwc_.resize(node + 1, false);
    nhwc_[node] = on;
  }
  // Channels-last nets: converts the inputs of layer e (li in the spec) to the layout it takes
  // (a to_nhwc or to_nchw layer before it, output node "name@nhwc" / "name@nchw") and tells it;
  // returns whether its outputs are channels-last. Nodes read after a pass (the last layer's, a
  // loss layer's, keep_values: what Output, NodeByName and extract hand out) stay (N, C, H, W),
  // as they stay float with bf16 nodes: their layer takes (N, C, H, W), whatever it prefers.
  bool ChooseLayout(const NetSpec& spec, size_t li, Entry& e, const LayerSpec& ls, std::vector<Shape<4>>& in_shapes);
  // Whether node name n is read after a pass as NetSpec::keep_values names it: a kept name k
  // keeps every version k, k', k'', ... of a node rewritten in place (the constructor), and a
  // config names a layer's output k' where it rewrites k but cannot run in place.
  static bool Kept(const NetSpec& spec, std::string_view n) {
    while (!n.empty() && !std::ranges::count(spec.keep_values, n) && n.back() == '\'') n.remove_suffix(1);
    return std::ranges::count(spec.keep_values, n) != 0;
  }
  // NetSpec::fuse_relu: layer li of the spec (relu, made and checked) goes into the layer just
  // before it when that layer wrote its input, nothing else reads or keeps the value before the
  // relu (an in-place relu's node keeps its name, whose value was always the relu's), and the
  // layer agrees. The relu's output name then names the producer's node. Returns whether it did.
  bool FuseIntoProducer(const NetSpec& spec, size_t li, const Layer<xpu, DType>& relu);
  // NetSpec::fuse_add: layer li of the spec (eltwise_sum, made and checked) goes into the layer
  // just before it when that layer wrote one of its two inputs, nothing else reads or keeps that
  // value (nor the sum's, whose layout and storage would be the net's to choose), the other
  // input is read by no layer yet (else the net's own error follows) and is held alike (shape,
  // layout, storage), and the layer agrees. The other input becomes the producer's input 1 and
  // the sum's output name names the producer's node. Returns whether it did.
  bool FuseAddIntoProducer(const NetSpec& spec, size_t li, const Layer<xpu, DType>& sum,
                           std::map<int, std::string>& consumer);
  // bf16_nodes: converts the inputs of layer e (li in the spec) to what it takes (a to_bf16 or
  // to_fp32 layer before it) and tells it; returns whether its outputs are bf16. A layer that
  // can takes bf16 where every input is bf16, an island (below) or, for BF16Nodes::kPrefer, a
  // net input. Nodes read after a pass (the last layer's, a loss layer's, keep_values) stay
  // float.
  // *island: the layer takes float where an input was bf16 (its outputs are an island).
  bool ChooseBF16(const NetSpec& spec, size_t li, Entry& e, const LayerSpec& ls, std::vector<Shape<4>>& in_shapes,
                  bool* island);
  // Puts a conversion (node, name, to) -> node before each input of e whose kind (`is`: a
  // layout or a storage) is not `to`.
  void ConvertInputs(Entry& e, const LayerSpec& ls, std::vector<Shape<4>>& in_shapes, bool to,
                     bool (Net::*is)(int) const, int (Net::*convert)(int, const std::string&, bool));
  // Appends a to_bf16 (to_fp32) layer reading node `node` (named `name`); returns its output,
  // in the layout of its input.
  int ConvertBF16(int node, const std::string& name, bool to_bf16) {
    return AppendConversion(node, name, to_bf16 ? "to_bf16" : "to_fp32", to_bf16 ? "@bf16" : "@fp32", IsNhwc(node),
                            to_bf16);
  }
  // Appends a to_nhwc (to_nchw) layer reading node `node` (named `name`); returns its output.
  // They move float values: a bf16 node is converted back first.
  int Convert(int node, const std::string& name, bool to_nhwc) {
    if (IsBF16(node)) node = ConvertBF16(node, name, false);
    return AppendConversion(node, name, to_nhwc ? "to_nhwc" : "to_nchw", to_nhwc ? "@nhwc" : "@nchw", to_nhwc, false);
  }
  // Appends a conversion layer of `type` reading node `node`, its output named name + suffix
  // (primed until the name is free), channels-last and bf16 as given; returns the output.
  int AppendConversion(int node, const std::string& name, const char* type, const char* suffix, bool nhwc, bool bf16);
  // Initial weights are drawn on the host for every device, so that one seed gives the same
  // starting point on the cpu and the gpu (the gpu's random engine draws other numbers): a net
  // of batch 2 (batch statistics need two rows; weights do not depend on the batch) is built on
  // the cpu and its weights copied here, in visiting order (same names).
  void InitFromHost(const NetSpec& spec) {
    NetSpec host = spec;
    host.weights_from_host = false;  // the host net draws its own
    host.bf16_nodes = false;
    const index_t b = std::min<index_t>(spec.input_shape[0], 2);
    host.input_shape[0] = b;
    for (auto& [name, shape] : host.extra_inputs) shape[0] = b;
    host.inference_only = true;
    Net<cpu, DType> h(host);
    std::vector<Tensor<cpu, 2, DType>> from;
    h.VisitWeights([&](const std::string&, Tensor<cpu, 2, DType> w, Tensor<cpu, 2, DType>) { from.push_back(w); });
    size_t k = 0;
    for (auto& e : layers_)
      e.layer->VisitWeights([&](const std::string&, Tensor<xpu, 2, DType> w, Tensor<xpu, 2, DType>) {
        if (e.shares < 0) Copy(w, from.at(k++));
      });
  }
  // The weights of layer i as (tag -> weight, gradient), in visiting order.
  std::vector<std::pair<Tensor<xpu, 2, DType>, Tensor<xpu, 2, DType>>> WeightsOf(size_t i) {
    std::vector<std::pair<Tensor<xpu, 2, DType>, Tensor<xpu, 2, DType>>> w;
    layers_[i].layer->VisitWeights([&](const std::string&, Tensor<xpu, 2, DType> a, Tensor<xpu, 2, DType> g) {
      w.push_back({a, g});
    });
    return w;
  }
  // A share layer keeps its own copy of the weights (layers own their storage): the source's
  // values are copied in before each forward, and its gradients moved into the source's after
  // each backward, so updaters, model files and the visitor see one set of weights.
  void PullShared(size_t i) {
    auto mine = WeightsOf(i), src = WeightsOf(size_t(layers_[i].shares));
    for (size_t k = 0; k < mine.size(); ++k) Copy(mine[k].first, src[k].first);
  }
  void PushSharedGrad(size_t i) {
    auto mine = WeightsOf(i), src = WeightsOf(size_t(layers_[i].shares));
    for (size_t k = 0; k < mine.size(); ++k) {
      src[k].second += mine[k].second;
      mine[k].second = DType(0);
    }
  }
  // Entry::prop for every layer: whether some input's value depends on a weight, so that its
  // gradient reaches one. Net inputs need no gradient, nor what weightless layers make of them
  // alone: the to_nhwc / to_bf16 copy of the images (the first convolution of a channels-last
  // or bf16 net would compute the gradient of its input, the size of the image batch, for
  // nobody) or a flatten in front of the first fullc. PyTorch skips them alike (requires_grad).
  // grad_used_: per node, whether a backward reads or writes its gradient (its value depends on
  // a weight, or a consumer passes gradients on); the others get no gradient storage.
  void DecideGradients();  // net_build-inl.h
  // A layer with weights that no loss layer depends on (a fullc after the softmax) would never
  // train, while metrics and predictions read its untrained output: an error naming it (and its
  // config line).
  void CheckEveryWeightReachesALoss(const NetSpec& spec) const;
  static bool HasWeights(Layer<xpu, DType>& l) {
    bool weights = false;
    l.VisitWeights([&](const std::string&, Tensor<xpu, 2, DType>, Tensor<xpu, 2, DType>) { weights = true; });
    return weights;
  }
  // An error from inside a layer's pass (a cuDNN or CUDA failure, out of memory, a bad label)
  // names the layer and the pass, unless it already names the layer.
  static Error InLayer(const Layer<xpu, DType>& l, const char* pass, const Error& err) {
    const std::string who = l.Describe();
    if (err.message().find(who) != std::string::npos) return err;
    const std::string what = err.what();
    return Error(what.substr(0, what.size() - err.message().size()), who + ", " + pass + ": " + err.message());
  }
  // An error about a config's layer starts with the file:line of its declaration, as the
  // config's own errors do (a large config has many layers of one type).
  static Error AtDeclaration(const LayerSpec& ls, const Error& err) {
    if (ls.where.empty()) return err;
    const std::string what = err.what();
    return Error(what.substr(0, what.size() - err.message().size()), ls.where + ": " + err.message());
  }
  static void Check(const LayerSpec& ls, const Layer<xpu, DType>* l) {
    auto count_ok = [](int want, size_t have) { return want == -1 ? have >= 1 : int(have) == want; };
    UMBRA_CHECK(count_ok(l->NumIn(), ls.in.size()), l->Describe(), ": takes ",
                l->NumIn() == -1 ? std::string("at least 1") : std::to_string(l->NumIn()),
                " input(s), got ", ls.in.size());
    UMBRA_CHECK(count_ok(l->NumOut(), ls.out.size()), l->Describe(), ": gives ",
                l->NumOut() == -1 ? std::string("at least 1") : std::to_string(l->NumOut()),
                " output(s), got ", ls.out.size());
  }
  std::vector<NodeT*> Ptrs(const std::vector<int>& idx) const {
    std::vector<NodeT*> p;
    for (int i : idx) p.push_back(nodes_[i].get());
    return p;
  }
  // The arena's entries (node values and gradients) placed by PlanArena (arena_plan.h: entries
  // whose live intervals [first, last], in steps, overlap never overlap in memory), with, where
  // `want` is given, one more entry per step of that many bytes of pass scratch, live at its
  // step alone.
  ArenaPlan PlanEntries(const std::vector<size_t>& want) const;
  // Allocates `plan`'s arena in place of the one before (freed first), points every node's value
  // and gradient in it into it, and finds each step's gap among the nodes alone.
  void UseArena(const ArenaPlan& plan);

  // The plan's step of layer l's pass: the forwards 0..L-1, then the backwards, layer l's at 2L-1-l.
  size_t StepOf(size_t l, bool backward) const { return backward ? 2 * layers_.size() - 1 - l : l; }
  // The gap layer l's pass is lent (nothing without a shared arena, or where none is left), and
  // where the scratch it asks for is counted (PlanScratch).
  PassScratch::Lend Gap(size_t l, bool backward) {
    const size_t s = StepOf(l, backward);
    size_t* want = s < wants_.size() ? &wants_[s] : nullptr;
    size_t* beside = s < besides_.size() ? &besides_[s] : nullptr;
    if (s >= gaps_.size() || gaps_[s].second == 0) return PassScratch::Lend(nullptr, 0, want, beside);
    return PassScratch::Lend(gap_base_ + gaps_[s].first, size_t(gaps_[s].second) * sizeof(DType), want, beside);
  }
  // After the first training step, whose passes made their choices (cuDNN's searches) and
  // asked for their scratch: where a pass took scratch beside its gap (from the caching
  // allocator, on top of the whole arena), the arena is planned again with each step's scratch
  // as an entry of its own, live at that step alone, so that a pass's scratch takes what the
  // nodes leave free at that moment, as PyTorch's workspaces do. The new plan is taken only
  // where its arena is smaller than the old one plus the most any pass held beside it (the old
  // peak); values read after a step (the output, loss outputs, keep_values) are carried over,
  // and the old arena goes back to the driver before the new one is taken, so that the two are
  // never held at once (the cache would keep the old block, or serve the new plan from it).
  // Where the new arena cannot be had, the old plan is placed again. Once per net: not at all
  // where the first training step was captured into a graph (a later plan would move what the
  // graph's replays write). Passes the first step did not run (a test-mode forward) keep the
  // gaps the new plan leaves them.
  void PlanScratch();

  // Every node's value and gradient storage: planned into shared arenas (NetSpec::share_memory),
  // or a buffer each.
  void AllocateNodes(bool share_memory, const std::vector<int>& keep);
  // Gives every node its storage, values and gradients from one set of shared buffers: entries
  // whose live intervals do not overlap share a buffer. Time runs over the input copy (-1), the
  // forward steps 0..L-1, the backward steps L..2L-1 (layer l's at 2L-1-l) and 2L, after the
  // step, when the output is read.
  //  - A value lives from its producer's forward to its last reader: a later forward, or a
  //    backward that reads it (Layer::BackwardReadsInput/Output). The output of the last layer,
  //    the outputs of loss layers (metrics read them) and `keep` live to the end. So a value
  //    nothing reads backward (what a relu or a split consumed, a sum) gives its buffer to later
  //    nodes, as PyTorch frees tensors that autograd does not save.
  //  - A gradient lives over the backward steps of the layers that read or write it (its
  //    producer, in-place rewriters, its consumer). A node nobody consumes keeps its own zeroed
  //    gradient, since whoever reads it must see zeros. A layer that passes its gradient on
  //    (Layer::InputGradIsOutputGrad: eltwise_sum) gets its inputs' gradients in its output's
  //    buffer where that is safe (GradAliases), one interval over all, as PyTorch's add hands
  //    its gradient on without a copy: where a sum's fused relu holds the output's value for its
  //    mask, that step holds one buffer fewer (ResNet-50's planned peak: 10,364 -> 10,315 MiB,
  //    bench_train --memory), and a ResNet block's shortcut gets no copy of it. A gradient no
  //    backward reads or writes (the net input's, what weightless layers make of it alone:
  //    DecideGradients) gets no storage at all (the MLP's plan: 0.89 -> 0.79 MiB; the other
  //    bench nets' peaks lie elsewhere, unchanged).
  //  - inference_only: values only (no gradients, no backward readers).
  void PlanMemory(bool inference_only, const std::vector<int>& keep);
  // Per node, the node whose value buffer it uses: outputs that view their input (split,
  // flatten) take its buffer, one value with one interval over the group. Not an output
  // rewritten in place (the others would change with it); the input can only have been
  // rewritten before (the net refuses a rewrite after a reader). *rewritten: per node, whether
  // a layer rewrites it in place.
  std::vector<int> ViewGroups(std::vector<bool>* rewritten) const;
  // Layer::AddendOutlivesBackward, for each layer of two or more inputs (a batch norm with a
  // sum fused in): whether input 1's value (its view group `rep`) is kept after the pass, read
  // by the backward of a layer before it, which runs after its own, or is its own input 0's,
  // which it reads anyway (a split's two branches). Layers are told in forward order, so each
  // earlier one's answer is in its BackwardReads* already.
  void TellAddendsThatOutliveBackward(const std::vector<int>& rep, const std::vector<int>& kept);
  // Per node, the node whose gradient buffer it uses: itself, or the output of a layer that passes
  // its gradient on to its inputs (Layer::InputGradIsOutputGrad: eltwise_sum's inputs, a batch
  // norm's fused addend), followed down chains of such layers. An input qualifies when this layer
  // alone consumes it, it is no net input (its gradient is read after the pass), it is the output's
  // size and storage, and the output has a consumer (an unconsumed gradient must stay zero). Nodes
  // sharing a buffer must see the same numbers whenever each is read: a "clean" input is one whose
  // gradient no layer rewrites after this one's backward (not rewritten in place, and its producer
  // does not write its output gradient: Layer::RewritesOutputGrad). All qualifying inputs share the
  // output's buffer when all are clean (a ResNet block's sum: its batch norm's output and the
  // shortcut), and the group is marked shared where that is more than the first input that passes (a
  // sum's input 0); otherwise that input alone, as a chain of sums passes its gradient down (there a
  // later rewrite of its gradient harms nobody: the chain's other members were read before), unless
  // its group is shared and it is not clean.
  std::vector<int> GradAliases(bool inference_only, const std::vector<bool>& consumed) const;
  // Input k's value for this pass: the caller's buffer when the plan borrows it and it is dense
  // (node k and the outputs viewing it point there), else a copy into the node's own storage.
  void SetInput(size_t k, const Tensor<xpu, 4, DType>& t) {
    auto it = borrow_.find(int(k));
    if (it == borrow_.end()) {
      Copy(nodes_[k]->data.view(), t);
      return;
    }
    if (t.CheckContiguous()) {
      for (int i : it->second) nodes_[i]->data = Tensor<xpu, 4, DType>(t.dptr_, nodes_[i]->shape, t.stream_);
      return;
    }
    // A strided input (a slice of a larger batch): copied once into a buffer of its own.
    auto& own = input_copy_[k];
    if (!own.dptr_) own.Resize(Shape1(t.shape_.Size()));
    Tensor<xpu, 4, DType> dst(own.dptr_, t.shape_, own.stream_);
    Copy(dst, t);
    for (int i : it->second) nodes_[i]->data = Tensor<xpu, 4, DType>(own.dptr_, nodes_[i]->shape, own.stream_);
  }

  Random<xpu, DType> rnd_;
  std::vector<std::unique_ptr<NodeT>> nodes_;
  std::map<std::string, int> node_index_;
  std::vector<Entry> layers_;
  bool has_loss_ = false;
  std::vector<TensorContainer<xpu, 1, DType>> pool_;  // shared node storage
  // Per step (forward l at l, backward l at 2L-1-l), the largest stretch of the arena (at
  // gap_base_) no node holds then, in elements: lent to the step's pass (PassScratch).
  std::vector<std::pair<index_t, index_t>> gaps_;
  DType* gap_base_ = nullptr;
  // The arena's entries as PlanMemory made them, for PlanScratch's second plan: sizes and live
  // steps, the entry each node's value and gradient use (-1: none in the arena), the entries
  // whose values are read after a step, and where each is and the arena's size now (elements).
  struct ArenaEntries {
    std::vector<index_t> size;
    std::vector<int> first, last;
    std::vector<int> data_of, grad_of;
    std::vector<int> kept;
    std::vector<index_t> offset;  // each entry's, in the arena now
    index_t total = 0;
  } arena_;
  std::vector<size_t> wants_;    // per step: the most scratch bytes its pass asked for at once
  std::vector<size_t> besides_;  // per step: the most of them it held outside the arena at once
  int arena_plans_ = 0;        // arenas placed (PlanScratch's second plan makes it 2)
  bool scratch_planned_ = false;
  index_t node_elements_ = 0;
  bool inference_only_ = false;
  bool backward_ready_ = false;  // a Forward with labels since the last Backward
  StepMarks<xpu>* marks_ = nullptr;
  size_t num_inputs_ = 1;  // "in" and the extra inputs: nodes 0 .. num_inputs_ - 1
  std::map<int, std::vector<int>> borrow_;  // input node -> nodes whose value is the caller's buffer
  std::map<size_t, TensorContainer<xpu, 1, DType>> input_copy_;  // strided inputs' copies
  std::vector<std::string> notes_;
  std::vector<bool> nhwc_;  // per node: channels-last (N, H, W, C) values (NetSpec::channels_last)
  std::vector<bool> bf16_;  // per node: bfloat16 values and gradients (NetSpec::bf16_nodes)
  std::vector<bool> grad_used_;  // per node: some backward reads or writes its gradient (DecideGradients)
  std::set<int> island_;    // float nodes written by a float layer from bf16 ones (ChooseBF16)
};

}  // namespace umbra::nn

#include "umbra/nn/net_build-inl.h"
#include "umbra/nn/net_messages-inl.h"
#include "umbra/nn/net_memory-inl.h"

namespace umbra::nn {
// The float nets are compiled once, in src/nn/trainer.cc (cpu) and trainer.cu (gpu): every other
// file that uses them links those (a file that instantiated them itself took 6-32 s more to
// compile, 2026-12-07). Other element types (the double gradient checks) stay implicit.
extern template class Net<cpu, float>;
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
extern template class Net<gpu, float>;
#endif
}  // namespace umbra::nn
