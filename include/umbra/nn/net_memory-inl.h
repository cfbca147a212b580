// Net's memory (net.h declares these, with their contracts): every node's value and gradient
// placed in shared arenas by live interval (PlanMemory, arena_plan.h for the packing), with
// the passes' scratch planned in after the first training step (PlanScratch), outputs
// that view their input, gradients passed on without a copy. Included by net.h only; the
// choices made while the net is built are in net_build-inl.h.
#pragma once

namespace umbra::nn {

template <typename xpu, typename DType>
ArenaPlan Net<xpu, DType>::PlanEntries(const std::vector<size_t>& want) const {
  if (want.empty()) return PlanArena(arena_.size, arena_.first, arena_.last);
  std::vector<index_t> size = arena_.size;
  std::vector<int> first = arena_.first, last = arena_.last;
  for (size_t s = 0; s < want.size(); ++s) {
    if (!want[s]) continue;
    size.push_back(index_t((want[s] + sizeof(DType) - 1) / sizeof(DType)));
    first.push_back(int(s)), last.push_back(int(s));
  }
  return PlanArenaAround(ArenaPlan{arena_.offset, arena_.total}, arena_.size.size(), size, first, last);
}

template <typename xpu, typename DType>
void Net<xpu, DType>::UseArena(const ArenaPlan& plan) {
  pool_.clear();  // the arena before, back to the allocator before the new one is taken
  TensorContainer<xpu, 1, DType> arena;
  if (plan.total > 0) arena.Resize(Shape1(plan.total));
  // The gaps among the nodes alone: a scratch entry of step s lies in one of step s's gaps.
  gaps_ = LargestGaps(arena_.size, arena_.first, arena_.last, plan.offset, plan.total, int(2 * layers_.size()),
                      index_t(PassScratch::kAlign / sizeof(DType)));
  gap_base_ = arena.dptr_;
  auto view = [&](int k) { return arena.view().Slice(plan.offset[k], plan.offset[k] + arena_.size[k]); };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (arena_.data_of[i] >= 0) nodes_[i]->ShareData(view(arena_.data_of[i]));
    if (arena_.grad_of[i] >= 0) nodes_[i]->ShareGrad(view(arena_.grad_of[i]));
  }
  node_elements_ += plan.total - arena_.total;
  arena_.total = plan.total;
  arena_.offset.assign(plan.offset.begin(), plan.offset.begin() + std::ptrdiff_t(arena_.size.size()));
  pool_.push_back(std::move(arena));
  wants_.assign(2 * layers_.size(), 0);
  besides_.assign(2 * layers_.size(), 0);
  ++arena_plans_;
}

template <typename xpu, typename DType>
void Net<xpu, DType>::PlanScratch() {
  scratch_planned_ = true;
  if (arena_plans_ == 0 || inference_only_) return;
  const size_t over = besides_.empty() ? 0 : *std::max_element(besides_.begin(), besides_.end());
  if (over == 0) return;
  if constexpr (std::is_same_v<xpu, gpu>) {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if (cuda::CachingAllocator::Get().IsCapturing()) return;  // the graph holds the arena's addresses
#endif
  }
  const ArenaPlan plan = PlanEntries(wants_);
  if (size_t(plan.total) * sizeof(DType) >= size_t(arena_.total) * sizeof(DType) + over) return;
  // The values read after the step, through the change: these copies are all that is held
  // beside the arena while it changes.
  const ArenaPlan before{arena_.offset, arena_.total};
  auto slice = [&](const Tensor<xpu, 1, DType>& a, int k) {
    return a.Slice(arena_.offset[k], arena_.offset[k] + arena_.size[k]);
  };
  std::vector<TensorContainer<xpu, 1, DType>> saved;
  for (int k : arena_.kept) {
    saved.emplace_back(Shape1(arena_.size[k]));
    Copy(saved.back().view(), slice(pool_.at(0).view(), k));
  }
  pool_.clear();
  if constexpr (std::is_same_v<xpu, gpu>) {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    cuda::CachingAllocator::Get().TryEmptyCache();  // waits for the device: the copies are done
#endif
  }
  try {
    UseArena(plan);
  } catch (const Error&) {
    UseArena(before);  // the old plan's size was just given back
  }
  for (size_t j = 0; j < arena_.kept.size(); ++j) Copy(slice(pool_.at(0).view(), arena_.kept[j]), saved[j].view());
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
  std::vector<int> first, last, value_entry(nn, -1), grad_entry(nn, -1);
  for (int i = 0; i < nn; ++i) {
    if (rep[i] == i && !borrowed[i]) {
      value_entry[i] = int(size.size());
      size.push_back(StoredElements(i)), first.push_back(vf[i]), last.push_back(std::max(vl[i], vf[i]));
    }
    if (inference_only || grad_rep[i] != i || !grad_used_[i]) continue;
    if (consumed[i] && gl[i] >= 0) {
      grad_entry[i] = int(size.size());
      size.push_back(StoredElements(i)), first.push_back(gf[i]), last.push_back(gl[i]);
    } else {
      nodes_[i]->AllocateGrad();
      node_elements_ += nodes_[i]->shape.Size();
    }
  }
  arena_ = ArenaEntries{size, first, last, std::vector<int>(nn, -1), std::vector<int>(nn, -1), {}, {}, 0};
  for (int i = 0; i < nn; ++i) {
    if (!borrowed[rep[i]]) arena_.data_of[i] = value_entry[rep[i]];
    arena_.grad_of[i] = grad_entry[grad_rep[i]];
  }
  for (int i : kept)
    if (arena_.data_of[i] >= 0 && std::ranges::count(arena_.kept, arena_.data_of[i]) == 0)
      arena_.kept.push_back(arena_.data_of[i]);
  UseArena(PlanEntries({}));
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
