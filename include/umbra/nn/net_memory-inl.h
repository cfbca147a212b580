// Net's memory (net.h declares these, with their contracts): every node's value and gradient
// placed in shared arenas by live interval (PlanMemory, arena_plan.h for the packing), outputs
// that view their input, gradients passed on without a copy. Included by net.h only; the
// choices made while the net is built are in net_build-inl.h.
#pragma once

namespace umbra::nn {

template <typename xpu, typename DType>
std::vector<Tensor<xpu, 1, DType>> Net<xpu, DType>::SharedBuffers(const std::vector<index_t>& size,
                                                                  const std::vector<int>& first,
                                                                  const std::vector<int>& last) {
  const ArenaPlan plan = PlanArena(size, first, last);
  TensorContainer<xpu, 1, DType> arena;
  if (plan.total > 0) arena.Resize(Shape1(plan.total));
  gaps_ = LargestGaps(size, first, last, plan.offset, plan.total, int(2 * layers_.size()),
                      index_t(PassScratch::kAlign / sizeof(DType)));
  gap_base_ = arena.dptr_;
  std::vector<Tensor<xpu, 1, DType>> views;
  for (size_t k = 0; k < size.size(); ++k)
    views.push_back(arena.view().Slice(plan.offset[k], plan.offset[k] + size[k]));
  node_elements_ += plan.total;
  pool_.push_back(std::move(arena));
  return views;
}

template <typename xpu, typename DType>
void Net<xpu, DType>::AllocateNodes(bool share_memory, const std::vector<int>& keep) {
  if (share_memory) {
    PlanMemory(inference_only_, keep);
    return;
  }
  for (auto& node : nodes_) {
    node->Allocate();
    node_elements_ += 2 * node->shape.Size();
  }
}

template <typename xpu, typename DType>
void Net<xpu, DType>::PlanMemory(bool inference_only, const std::vector<int>& keep) {
  const int nl = int(layers_.size()), nn = int(nodes_.size()), end = 2 * nl;
  std::vector<int> kept = keep;
  kept.insert(kept.end(), layers_.back().out.begin(), layers_.back().out.end());
  for (auto& e : layers_)
    if (e.layer->IsLoss()) kept.insert(kept.end(), e.out.begin(), e.out.end());
  std::vector<bool> rewritten;
  const std::vector<int> rep = ViewGroups(&rewritten);
  if (!inference_only) TellAddendsThatOutliveBackward(rep, kept);
  std::vector<int> vf(nn, end), vl(nn, -1), gf(nn, end), gl(nn, -1);
  std::vector<bool> consumed(nn, false);
  for (int i = 0; i < int(num_inputs_); ++i) vf[i] = vl[i] = -1;
  for (int l = 0; l < nl; ++l) {
    const Entry& e = layers_[l];
    const int back = int(StepOf(size_t(l), true));
    for (int i : e.in) consumed[i] = true;
    for (const auto* list : {&e.in, &e.out})
      for (int i : *list) {
        vf[i] = std::min(vf[i], l), vl[i] = std::max(vl[i], l);
        gf[i] = std::min(gf[i], back), gl[i] = std::max(gl[i], back);
      }
    if (inference_only) continue;
    for (size_t k = 0; k < e.in.size(); ++k)
      if (e.layer->BackwardReadsInput(int(k))) vl[e.in[k]] = std::max(vl[e.in[k]], back);
    for (size_t k = 0; k < e.out.size(); ++k)
      if (e.layer->BackwardReadsOutput(int(k))) vl[e.out[k]] = std::max(vl[e.out[k]], back);
  }
  for (int i : kept) vl[i] = end;
  for (int i = 0; i < nn; ++i)
    if (rep[i] != i) vf[rep[i]] = std::min(vf[rep[i]], vf[i]), vl[rep[i]] = std::max(vl[rep[i]], vl[i]);
  // An input's value is the caller's buffer itself during a pass (Forward points the node, and
  // the outputs viewing it, there) unless a layer rewrites it in place or it must outlive the
  // pass: no copy, and no room in the arena.
  std::vector<bool> borrowed(nn, false);
  for (int i = 0; i < int(num_inputs_); ++i)
    borrowed[i] = !rewritten[i] && vl[i] < end && std::find(kept.begin(), kept.end(), i) == kept.end();
  for (int i = 0; i < nn; ++i)
    if (borrowed[rep[i]]) borrow_[rep[i]].push_back(i);
  std::vector<int> grad_rep = GradAliases(inference_only, consumed);
  for (int i = 0; i < nn; ++i)
    if (grad_rep[i] != i)
      gf[grad_rep[i]] = std::min(gf[grad_rep[i]], gf[i]), gl[grad_rep[i]] = std::max(gl[grad_rep[i]], gl[i]);
  std::vector<index_t> size;
  std::vector<int> first, last, node, value_entry(nn, -1), grad_entry(nn, -1);
  std::vector<bool> is_grad;
  for (int i = 0; i < nn; ++i) {
    if (rep[i] == i && !borrowed[i]) {
      value_entry[i] = int(size.size());
      size.push_back(StoredElements(i)), first.push_back(vf[i]), last.push_back(std::max(vl[i], vf[i]));
      node.push_back(i), is_grad.push_back(false);
    }
    if (inference_only || grad_rep[i] != i || !grad_used_[i]) continue;
    if (consumed[i] && gl[i] >= 0) {
      grad_entry[i] = int(size.size());
      size.push_back(StoredElements(i)), first.push_back(gf[i]), last.push_back(gl[i]);
      node.push_back(i), is_grad.push_back(true);
    } else {
      nodes_[i]->AllocateGrad();
      node_elements_ += nodes_[i]->shape.Size();
    }
  }
  auto views = SharedBuffers(size, first, last);
  for (size_t k = 0; k < views.size(); ++k)
    if (is_grad[k]) nodes_[node[k]]->ShareGrad(views[k]);
  for (int i = 0; i < nn; ++i)
    if (grad_rep[i] != i && grad_entry[grad_rep[i]] >= 0) nodes_[i]->ShareGrad(views[grad_entry[grad_rep[i]]]);
  for (int i = 0; i < nn; ++i)
    if (!borrowed[rep[i]]) nodes_[i]->ShareData(views[value_entry[rep[i]]]);
}

template <typename xpu, typename DType>
std::vector<int> Net<xpu, DType>::ViewGroups(std::vector<bool>* rewritten) const {
  const int nn = int(nodes_.size());
  std::vector<int> rep(nn);
  rewritten->assign(nn, false);
  for (int i = 0; i < nn; ++i) rep[i] = i;
  for (auto& e : layers_)
    for (int i : e.out)
      if (std::ranges::count(e.in, i)) (*rewritten)[i] = true;
  for (auto& e : layers_) {
    if (!e.layer->OutputsViewInput()) continue;
    for (int o : e.out)
      if (!(*rewritten)[o] && StoredElements(o) == StoredElements(e.in[0]) && IsBF16(o) == IsBF16(e.in[0]))
        rep[o] = rep[e.in[0]];
  }
  return rep;
}

template <typename xpu, typename DType>
void Net<xpu, DType>::TellAddendsThatOutliveBackward(const std::vector<int>& rep, const std::vector<int>& kept) {
  for (size_t l = 0; l < layers_.size(); ++l) {
    Entry& e = layers_[l];
    if (e.in.size() < 2) continue;
    const int g = rep[e.in[1]];
    bool live = std::ranges::any_of(kept, [&](int i) { return rep[i] == g; }) ||
                (rep[e.in[0]] == g && e.layer->BackwardReadsInput(0));
    for (size_t k = 0; k < l && !live; ++k) {
      const Entry& r = layers_[k];
      for (size_t j = 0; j < r.in.size(); ++j)
        live = live || (rep[r.in[j]] == g && r.layer->BackwardReadsInput(int(j)));
      for (size_t j = 0; j < r.out.size(); ++j)
        live = live || (rep[r.out[j]] == g && r.layer->BackwardReadsOutput(int(j)));
    }
    e.layer->AddendOutlivesBackward(live);
  }
}

template <typename xpu, typename DType>
std::vector<int> Net<xpu, DType>::GradAliases(bool inference_only, const std::vector<bool>& consumed) const {
  const int nn = int(nodes_.size());
  std::vector<int> rep(nn), readers(nn, 0);
  for (int i = 0; i < nn; ++i) rep[i] = i;
  if (inference_only) return rep;
  std::vector<bool> dirty(nn, false), shared_group(nn, false);
  for (const Entry& e : layers_) {
    for (int i : e.in) ++readers[i];
    for (int o : e.out)
      if (std::ranges::count(e.in, o) || e.layer->RewritesOutputGrad()) dirty[o] = true;
  }
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {  // later layers first: chains
    const Entry& e = *it;
    if (e.out.empty()) continue;
    std::vector<int> passes;  // the inputs whose gradient is the output's
    for (size_t k = 0; k < e.in.size(); ++k)
      if (e.layer->InputGradIsOutputGrad(int(k))) passes.push_back(e.in[k]);
    if (passes.empty()) continue;
    const int o = e.out[0];
    auto qualifies = [&](int a) {
      return a != o && a >= int(num_inputs_) && readers[a] == 1 && consumed[o] &&
             nodes_[a]->shape.Size() == nodes_[o]->shape.Size() && IsBF16(a) == IsBF16(o);
    };
    std::vector<int> join;
    bool clean = true;
    for (int a : passes)
      if (qualifies(a)) join.push_back(a), clean = clean && !dirty[a];
    if (join.empty()) continue;
    const int g = rep[o], first = passes[0];
    if (clean) {
      for (int a : join) rep[a] = g;
      if (join.size() > 1 || join[0] != first) shared_group[g] = true;
    } else if (qualifies(first) && (!shared_group[g] || !dirty[first])) {
      rep[first] = g;
    }
  }
  return rep;
}

}  // namespace umbra::nn
