// Net's constructor and its choices while it is built (net.h declares them, with their
// contracts; the constructor moved here to keep net.h under STYLE's ~800 lines): the layout and
// storage each layer takes, with the to_nhwc / to_nchw / to_bf16 / to_fp32 conversions that
// brings, the relu and eltwise_sum layers fused into their producers, which nodes get gradients,
// and the check that every weight reaches a loss. Included by net.h only; the memory plan is in
// net_memory-inl.h.
#pragma once

namespace umbra::nn {

// The constructor: the steps net.h's declaration lists, in that order.
template <typename xpu, typename DType>
Net<xpu, DType>::Net(const NetSpec& spec) : rnd_(spec.seed) {
  CheckDefaults(spec.defaults);
  node_index_["in"] = 0;
  nodes_.emplace_back(new NodeT());
  nodes_[0]->shape = spec.input_shape;
  if (spec.input_channels_last) {
    UMBRA_CHECK(spec.channels_last, "input_channels_last: the net must be channels_last too");
    nodes_[0]->shape = NhwcOf(spec.input_shape);
    SetNhwc(0, true);
  }
  for (auto& [name, shape] : spec.extra_inputs) {
    UMBRA_CHECK(!node_index_.count(name), "extra input '", name, "' is declared twice");
    UMBRA_CHECK(shape[0] == spec.input_shape[0], "extra input '", name, "' has batch ", shape[0],
                " but the input has ", spec.input_shape[0]);
    node_index_[name] = int(nodes_.size());
    nodes_.emplace_back(new NodeT());
    nodes_.back()->shape = shape;
  }
  num_inputs_ = 1 + spec.extra_inputs.size();
  std::map<int, std::string> consumer;  // node -> the layer reading it
  std::map<int, std::pair<size_t, int>> writer;  // node -> the layer (and output) that last wrote it
  std::map<std::string, size_t> fused;  // a layer fused into its producer -> its spec index
  std::set<std::string> share_names;     // the share layers so far
  std::set<std::string> names;           // every layer's so far
  for (size_t li = 0; li < spec.layers.size(); ++li) {
    try {
      const LayerSpec& ls = spec.layers[li];
      Entry e;
      // share: another application of an earlier layer, with the same type, keys and weights.
      const LayerSpec* def = &ls;
      if (ls.type == "share") {
        std::string source;
        for (auto& [k, v] : ls.params)
          if (k == "source") source = v;
          else UMBRA_THROW("share layer '", ls.name, "': unknown key '", k, "' (only source)");
        for (size_t j = 0; j < layers_.size() && e.shares < 0; ++j)
          if (layers_[j].layer->name() == source) e.shares = int(j);
        UMBRA_CHECK(!share_names.count(source), "share layer '", ls.name, "': '", source,
                    "' is itself a share; name the original layer");
        if (auto f = fused.find(source); e.shares < 0 && f != fused.end()) {
          // A relu or sum that went into its producer: weightless, so this share is one more
          // application of its definition, with nothing to share. Fusing stays invisible.
          def = &spec.layers[f->second];
        } else {
          UMBRA_CHECK(e.shares >= 0, "share layer '", ls.name, "': no earlier layer named '", source, "'");
          UMBRA_CHECK(layers_[e.shares].spec >= 0, "share layer '", ls.name, "': '", source,
                      "' is a conversion the net inserted, not a layer of the config");
          // The source's definition by its own index in the spec: fused relus and inserted
          // conversions make the net's layer list differ from the spec's.
          def = &spec.layers[size_t(layers_[e.shares].spec)];
        }
      }
      e.spec = int(li);
      e.layer = LayerRegistry<xpu, DType>::Get().Create(def->type);
      e.layer->set_name(ls.name.empty() ? ls.type + std::to_string(li) : ls.name);
      // A name is the key of the layer's weights (NAME.wmat), its updaters and its LAYER:key
      // settings: two fullc layers named fc in a NetSpec built in code shared one momentum
      // buffer (a heap overrun where the second was larger), and their model file could not
      // be read back. (netconfig refuses both for a config.)
      UMBRA_CHECK(names.insert(e.layer->name()).second, e.layer->Describe(),
                  ": another layer of the net has this name",
                  ls.name.empty() ? " (the one given to an unnamed layer: its type and its index in the spec)" : "");
      UMBRA_CHECK(e.layer->name().find(':') == std::string::npos, e.layer->Describe(),
                  ": a layer name holds no ':' (LAYER:key names a layer's updater settings)");
      if (ls.type == "share") share_names.insert(e.layer->name());
      const std::string who = e.layer->Describe();
      // A default is for the layers that take its value (cxxnet's defcfg): a global algo =
      // im2col is conv's, not a relu's. A value no layer type takes is an error when the config
      // is read (netconfig.cc).
      for (auto& [k, v] : spec.defaults) {
        try {
          e.layer->SetParam(k, v);
        } catch (const Error&) {
        }
      }
      for (auto& [k, v] : def->params)
        UMBRA_CHECK(e.layer->SetParam(k, v), who, ": unknown key '", k, "'", DidYouMean(k, e.layer->KeyNames()));
      // A key of its own block that changes nothing is a slip, or cxxnet's habit (ImageNet.conf
      // gives init_sigma under a global random_type = xavier): a note, not an error. Said of
      // the layer that has the keys, not again of each share of it.
      for (auto& [k, v] : def->params) {
        const std::string why = ls.type == "share" ? "" : e.layer->KeyWithoutEffect(k == "random_type" ? "init" : k);
        if (!why.empty())
          notes_.push_back((ls.where.empty() ? "" : ls.where + ": ") + who + ": " + k + " = " + v +
                           " has no effect: " + why);
      }
      if (const std::string note = ls.type == "share" ? "" : e.layer->Note(); !note.empty())
        notes_.push_back((ls.where.empty() ? "" : ls.where + ": ") + who + ": " + note);
      Check(ls, e.layer.get());
      // In a net of (N, C, H, W) nodes nothing tracks a to_nhwc's output: the layers after it
      // read (N, H, W, C) values as (N, C, H, W) (a conv took H for its channels), silently.
      UMBRA_CHECK(spec.channels_last || !e.layer->FlipsLayout(), who, ": a layout conversion, which only a ",
                  "channels-last net (layout = nhwc, on a GPU) takes; the net inserts them itself there");
      if ((spec.fuse_relu && spec.share_memory && FuseIntoProducer(spec, li, *e.layer)) ||
          (spec.fuse_add && spec.share_memory && FuseAddIntoProducer(spec, li, *e.layer, consumer))) {
        fused[e.layer->name()] = li;  // never a share (the fusions leave those alone)
        continue;
      }
      std::vector<Shape<4>> in_shapes;
      for (const std::string& n : ls.in) {
        auto it = node_index_.find(n);
        UMBRA_CHECK(it != node_index_.end(), who, ": input node '", n, "' is not produced by an earlier layer");
        // An in-place layer rewrites its node, so nothing may have read the node before it.
        UMBRA_CHECK(!consumer.count(it->second), who, ": node '", n, "' already feeds ",
                    consumer[it->second], "; insert a split layer to use it twice");
        // A loss layer ends the net: its backward sets its input's gradient from the labels
        // alone, so a layer after it (a second softmax on the node, a fullc on the
        // probabilities) would send nothing back, and the loss read would be of the wrong values.
        // (Inference alone runs such a net as written.)
        const auto w = writer.find(it->second);
        UMBRA_CHECK(spec.inference_only || w == writer.end() || !layers_[w->second.first].layer->IsLoss(), who,
                    ": reads node '", n, "', the output of ", layers_[w->second.first].layer->Describe(),
                    ", a loss layer; a loss layer ends the net (nothing after it would train the layers before it)");
        const bool inplace = ls.out.size() == 1 && ls.out[0] == n;
        if (!inplace) consumer[it->second] = who;
        e.in.push_back(it->second);
        in_shapes.push_back(nodes_[it->second]->shape);
      }
      const bool nhwc = spec.channels_last && ChooseLayout(spec, li, e, ls, in_shapes);
      bool island = false;
      const bool half = spec.bf16_nodes && ChooseBF16(spec, li, e, ls, in_shapes, &island);
      std::vector<Shape<4>> out_shapes;
      e.layer->set_weight_grads(!spec.inference_only);  // before InferShape: batch norm asks
      try {
        out_shapes = e.layer->InferShape(in_shapes);
      } catch (const Error& err) {
        throw InLayer(*e.layer, "set-up", err);
      } catch (const std::exception& x) {  // a library's own, e.g. oneDNN refusing a size
        UMBRA_THROW(who, ", set-up: ", x.what());
      }
      for (const Shape<4>& o : out_shapes) {
        // In double: a shape whose element count wraps (pad = 2^30) reached the next layer as
        // "empty input (50,1,1,-9223371813516475064)".
        double elements = 1;
        for (int d = 0; d < 4; ++d) elements *= double(o[d]);
        UMBRA_CHECK(o[0] >= 1 && o[1] >= 1 && o[2] >= 1 && o[3] >= 1 && elements <= kMaxNodeElements, who,
                    ": output shape (", o[0], ",", o[1], ",", o[2], ",", o[3], ")",
                    elements > kMaxNodeElements ? " is too large (more than 2^40 elements)" : " is empty");
      }
      if (e.layer->NumOut() == -1 && out_shapes.size() == 1)
        out_shapes.assign(ls.out.size(), out_shapes[0]);  // e.g. split: one shape per output
      UMBRA_CHECK(out_shapes.size() == ls.out.size(), who, ": produces ", out_shapes.size(),
                  " outputs but ", ls.out.size(), " are connected");
      for (size_t j = 0; j < ls.out.size(); ++j) {
        const std::string& n = ls.out[j];
        auto it = node_index_.find(n);
        if (it != node_index_.end()) {
          UMBRA_CHECK(ls.in.size() == 1 && ls.in[0] == n && e.layer->AllowInplace(), who,
                      ": node '", n, "' is produced twice (only in-place layers may rewrite a node)");
          UMBRA_CHECK(out_shapes[j] == nodes_[it->second]->shape, who, ": in-place output shape ",
                      out_shapes[j], " differs from its input ", nodes_[it->second]->shape);
          // The layer that wrote the node reads it back in its backward (max pooling finds each
          // window's maximum by comparing with it): rewriting it in place would change what that
          // backward sees (a dropout after a max pooling lost the pooling's gradient), so this
          // layer writes a new node, which takes over the name.
          auto w = writer.find(it->second);
          if (w != writer.end() && layers_[w->second.first].layer->BackwardReadsOutput(w->second.second)) {
            node_index_[n] = int(nodes_.size());
            nodes_.emplace_back(new NodeT());
            nodes_.back()->shape = out_shapes[j];
          }
          e.out.push_back(node_index_[n]);
        } else {
          node_index_[n] = int(nodes_.size());
          nodes_.emplace_back(new NodeT());
          nodes_.back()->shape = out_shapes[j];
          e.out.push_back(int(nodes_.size()) - 1);
        }
        writer[e.out.back()] = {layers_.size(), int(j)};
        SetNhwc(e.out.back(), nhwc);
        SetBF16(e.out.back(), half);
        if (island) island_.insert(e.out.back());
      }
      has_loss_ = has_loss_ || e.layer->IsLoss();
      layers_.push_back(std::move(e));
    } catch (const Error& err) {
      throw AtDeclaration(spec.layers[li], err);
    }
  }
  UMBRA_CHECK(!layers_.empty(), "the network has no layers");
  // layout = nhwc where no layer of the net works channels-last (an MLP) changes nothing.
  const bool any_nhwc = std::ranges::any_of(layers_, [&](const Entry& e) {
    return e.spec >= 0 && (std::ranges::any_of(e.in, [&](int i) { return IsNhwc(i); }) ||
                           std::ranges::any_of(e.out, [&](int i) { return IsNhwc(i); }));
  });
  if (spec.channels_last && !any_nhwc)
    notes_.push_back("layout = nhwc: no layer of this net works channels-last (cuDNN's convolution, pooling and "
                     "batch norm do): every node stays (N, C, H, W)");
  inference_only_ = spec.inference_only;
  std::vector<int> keep;
  for (size_t i = 0; i < spec.keep_values.size(); ++i) {
    const std::string& k = spec.keep_values[i];
    // keep_where in step with keep_values (NetSpec::Keep), else not trusted.
    const bool at = spec.keep_where.size() == spec.keep_values.size() && !spec.keep_where[i].empty();
    const std::string where = at ? spec.keep_where[i] + ": " : "";
    UMBRA_CHECK(node_index_.count(k), where, "no node named '", k, "' in the network (kept for reading after a pass: ",
                "extract_node_name, a metric[label,node])", NodeHint(spec, k));
    // A node rewritten in place is "name", then "name'", ... (netconfig): keep every version.
    for (std::string v = k; node_index_.count(v); v += "'") keep.push_back(node_index_[v]);
  }
  for (int i : keep)  // a relu fused into a bf16 layer: its output is that layer's node
    UMBRA_CHECK(!IsBF16(i), "node '", NameOf(i), "' is kept for reading after a pass but holds bfloat16 values ",
                "(bf16_nodes): keep the node before or after it, or write the relu unfused (fuse_relu = 0)");
  DecideGradients();
  // InitWeights allocates every layer's weights and buffers (and draws values); on a GPU, or
  // when asked, the values are the host net's instead, and nothing is drawn here (on a GPU
  // that drawing was a kernel per weight and a buffer as large as the largest one; in the
  // emulation, 14% of the profile of an AlexNet test).
  const bool from_host = !std::is_same_v<xpu, cpu> || spec.weights_from_host;
  // The nodes come after the weights (below), but a node past the machine's memory (a conv
  // with pad = 700 on 28x28 input) was refused only after its weights were allocated and
  // drawn (36 s, 6 GB): every memory plan holds the largest node's value, so that is asked
  // for first.
  if constexpr (std::is_same_v<xpu, cpu>) CheckLargestNodeFits(spec);
  rnd_.set_skip(from_host);
  for (auto& e : layers_) {
    e.layer->set_weight_grads(!inference_only_);
    try {
      e.layer->InitWeights(rnd_);
    } catch (const Error& err) {  // out of memory for nhidden = 2^31 - 1: which layer asked
      const Error in_layer = InLayer(*e.layer, "weights", err);
      if (e.spec < 0) throw in_layer;  // a conversion the net inserted
      throw AtDeclaration(spec.layers[size_t(e.spec)], in_layer);
    }
  }
  // The nodes after the weights: a net whose weights cannot fit (nhidden = 10^9) is refused at
  // once, where a node arena just under the machine's memory was first allocated and zeroed
  // (tens of seconds, and most of the memory, before the weights' error).
  try {
    AllocateNodes(spec.share_memory, keep);
  } catch (const Error& err) {  // a size gone wrong (nhidden = 2^31 - 1): say whose
    ThrowForNodes(spec, err);
  }
  rnd_.set_skip(false);
  if (from_host) InitFromHost(spec);
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].shares < 0) continue;
    auto mine = WeightsOf(i), src = WeightsOf(size_t(layers_[i].shares));
    bool same = mine.size() == src.size();
    for (size_t k = 0; same && k < mine.size(); ++k) same = mine[k].first.shape_ == src[k].first.shape_;
    // At the share's config line, naming the source's, where the spec has them.
    if (!same) {
      const std::string& src_at = spec.layers[size_t(layers_[size_t(layers_[i].shares)].spec)].where;
      throw AtDeclaration(
          spec.layers[size_t(layers_[i].spec)],
          Error(layers_[i].layer->Describe() + ": shares the weights of " +
                layers_[size_t(layers_[i].shares)].layer->Describe() + (src_at.empty() ? "" : " (" + src_at + ")") +
                " but its inputs give weights of other shapes"));
    }
    PullShared(i);
  }
  if (has_loss_ && !inference_only_) CheckEveryWeightReachesALoss(spec);
}

template <typename xpu, typename DType>
bool Net<xpu, DType>::ChooseLayout(const NetSpec& spec, size_t li, Entry& e, const LayerSpec& ls,
                                   std::vector<Shape<4>>& in_shapes) {
  std::vector<Shape<4>> logical;
  bool all = !e.in.empty();
  for (int i : e.in) {
    logical.push_back(IsNhwc(i) ? NchwOf(nodes_[i]->shape) : nodes_[i]->shape);
    all = all && IsNhwc(i);
  }
  const Layout want = e.layer->ChannelsLast(logical);
  bool use = want == Layout::kNhwc || (want == Layout::kEither && all);
  if (!e.layer->FlipsLayout()) {  // a to_nhwc / to_nchw layer in the spec does as it says
    if (li + 1 == spec.layers.size() || e.layer->IsLoss()) use = false;
    for (const std::string& o : ls.out) use = use && !Kept(spec, o);
  }
  ConvertInputs(e, ls, in_shapes, use, &Net::IsNhwc, &Net::Convert);
  if (use) e.layer->SetChannelsLast();
  return use != e.layer->FlipsLayout();
}

template <typename xpu, typename DType>
bool Net<xpu, DType>::FuseIntoProducer(const NetSpec& spec, size_t li, const Layer<xpu, DType>& relu) {
  const LayerSpec& ls = spec.layers[li];
  if (std::string_view(relu.Type()) != "relu" || ls.type == "share" || ls.in.size() != 1 || ls.out.size() != 1 ||
      layers_.empty())
    return false;
  const std::string& n = ls.in[0];
  auto it = node_index_.find(n);
  const Entry& p = layers_.back();
  if (it == node_index_.end() || p.out.size() != 1 || p.out[0] != it->second) return false;
  // A value read after a pass is (N, C, H, W) (ChooseLayout): such a relu runs on its own
  // rather than name a channels-last producer's node.
  if (IsNhwc(it->second) && (li + 1 == spec.layers.size() || Kept(spec, ls.out[0])))
    return false;
  if (ls.out[0] != n) {
    if (node_index_.count(ls.out[0]) || Kept(spec, n)) return false;
    for (size_t j = li + 1; j < spec.layers.size(); ++j)
      if (std::ranges::count(spec.layers[j].in, n)) return false;  // the net's own error follows
  }
  if (!p.layer->FuseRelu()) return false;
  node_index_[ls.out[0]] = it->second;
  return true;
}

template <typename xpu, typename DType>
bool Net<xpu, DType>::FuseAddIntoProducer(const NetSpec& spec, size_t li, const Layer<xpu, DType>& sum,
                         std::map<int, std::string>& consumer) {
  const LayerSpec& ls = spec.layers[li];
  if (std::string_view(sum.Type()) != "eltwise_sum" || ls.type == "share" || ls.in.size() != 2 ||
      ls.out.size() != 1 || layers_.empty() || li + 1 == spec.layers.size())
    return false;
  Entry& p = layers_.back();
  if (p.in.size() != 1 || p.out.size() != 1) return false;
  const int o = p.out[0];
  int k = -1;
  for (int j = 0; j < 2; ++j) {
    auto it = node_index_.find(ls.in[j]);
    if (it != node_index_.end() && it->second == o) k = j;
  }
  auto other = k < 0 ? node_index_.end() : node_index_.find(ls.in[1 - k]);
  if (other == node_index_.end()) return false;
  const int d = other->second;
  if (d == o || consumer.count(d) || consumer.count(o) || node_index_.count(ls.out[0]) ||
      nodes_[d]->shape != nodes_[o]->shape || IsNhwc(d) != IsNhwc(o) || IsBF16(d) != IsBF16(o) ||
      Kept(spec, ls.in[k]) || Kept(spec, ls.out[0]))
    return false;
  for (size_t j = li + 1; j < spec.layers.size(); ++j)
    if (std::ranges::count(spec.layers[j].in, ls.in[k])) return false;  // the net's own error follows
  if (!p.layer->FuseAdd()) return false;
  p.in.push_back(d);
  consumer[d] = p.layer->Describe() + " (with the sum '" + (ls.name.empty() ? ls.type + std::to_string(li) : ls.name) +
                "' fused in)";
  node_index_[ls.out[0]] = o;
  return true;
}

template <typename xpu, typename DType>
bool Net<xpu, DType>::ChooseBF16(const NetSpec& spec, size_t li, Entry& e, const LayerSpec& ls,
                                 std::vector<Shape<4>>& in_shapes, bool* island) {
  std::vector<Shape<4>> logical;
  for (int i : e.in) logical.push_back(IsNhwc(i) ? NchwOf(nodes_[i]->shape) : nodes_[i]->shape);
  const BF16Nodes want = e.layer->TakesBF16(logical);
  // Float inputs are converted where that opens or continues a bf16 stretch: the net's inputs
  // or their channels-last copies (for a layer that prefers bf16) and the outputs of a float
  // layer amid bf16 ones (an island: an lrn between bf16 pooling and a bf16 convolution). A
  // float node between float layers is not converted for one layer: its copy would be held
  // beside it.
  bool use = want != BF16Nodes::kNo && !e.in.empty(), had16 = false;
  for (int i : e.in) {
    use = use && (IsBF16(i) || IsIsland(i) || (want == BF16Nodes::kPrefer && FromNetInput(i)));
    had16 = had16 || IsBF16(i);
  }
  if (li + 1 == spec.layers.size() || e.layer->IsLoss()) use = false;
  for (const std::string& o : ls.out) use = use && !Kept(spec, o);
  ConvertInputs(e, ls, in_shapes, use, &Net::IsBF16, &Net::ConvertBF16);
  if (use) e.layer->SetBF16();
  *island = !use && had16;
  return use;
}

template <typename xpu, typename DType>
void Net<xpu, DType>::ConvertInputs(Entry& e, const LayerSpec& ls, std::vector<Shape<4>>& in_shapes, bool to,
                   bool (Net::*is)(int) const, int (Net::*convert)(int, const std::string&, bool)) {
  for (size_t k = 0; k < e.in.size(); ++k) {
    if ((this->*is)(e.in[k]) == to) continue;
    e.in[k] = (this->*convert)(e.in[k], ls.in[k], to);
    // An in-place layer rewrites the converted node, which then goes by the name.
    if (std::find(ls.out.begin(), ls.out.end(), ls.in[k]) != ls.out.end()) node_index_[ls.in[k]] = e.in[k];
    in_shapes[k] = nodes_[e.in[k]]->shape;
  }
}
template <typename xpu, typename DType>
int Net<xpu, DType>::AppendConversion(int node, const std::string& name, const char* type, const char* suffix,
                                      bool nhwc, bool bf16) {
  Entry t;
  t.layer = LayerRegistry<xpu, DType>::Get().Create(type);
  std::string n = name + suffix;
  while (node_index_.count(n)) n += "'";
  t.layer->set_name(n);
  t.in = {node};
  if (bf16) t.layer->SetBF16();  // to_bf16's output is bf16; to_fp32 reads bf16 by its type
  const Shape<4> shape = t.layer->InferShape({nodes_[node]->shape})[0];
  const int out = int(nodes_.size());
  node_index_[n] = out;
  nodes_.emplace_back(new NodeT());
  nodes_.back()->shape = shape;
  SetNhwc(out, nhwc);
  SetBF16(out, bf16);
  t.out = {out};
  layers_.push_back(std::move(t));
  return out;
}

template <typename xpu, typename DType>
void Net<xpu, DType>::DecideGradients() {
  std::vector<bool> wants(nodes_.size(), false);
  grad_used_.assign(nodes_.size(), false);
  for (Entry& e : layers_) {
    e.prop = std::ranges::any_of(e.in, [&](int i) { return wants[size_t(i)]; });
    const bool weights = HasWeights(*e.layer);
    for (int o : e.out) wants[size_t(o)] = wants[size_t(o)] || e.prop || weights;
  }
  for (const Entry& e : layers_)
    for (int i : e.in) grad_used_[size_t(i)] = grad_used_[size_t(i)] || e.prop;
  for (size_t i = 0; i < nodes_.size(); ++i) grad_used_[i] = grad_used_[i] || wants[i];
}

template <typename xpu, typename DType>
void Net<xpu, DType>::CheckEveryWeightReachesALoss(const NetSpec& spec) const {
  std::vector<bool> needed(nodes_.size(), false);
  for (size_t i = layers_.size(); i-- > 0;) {
    const Entry& e = layers_[i];
    bool used = e.layer->IsLoss();
    for (int o : e.out) used = used || needed[size_t(o)];
    if (used) {
      for (int n : e.in) needed[size_t(n)] = true;
      continue;
    }
    const std::string where = e.spec >= 0 ? spec.layers[size_t(e.spec)].where : "";
    UMBRA_CHECK(!HasWeights(*e.layer), where, where.empty() ? "" : ": ", e.layer->Describe(),
                " has weights, but no loss layer depends on its output, so they ",
                "would never train: end the net with its loss layer");
  }
}

}  // namespace umbra::nn
