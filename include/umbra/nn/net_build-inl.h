// Net's choices while it is built (net.h declares them, with their contracts): the layout and
// storage each layer takes, with the to_nhwc / to_nchw / to_bf16 / to_fp32 conversions that
// brings, the relu and eltwise_sum layers fused into their producers, which nodes get gradients,
// and the check that every weight reaches a loss. Included by net.h only; the memory plan is in
// net_memory-inl.h.
#pragma once

namespace umbra::nn {

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
