// Where each node buffer of a net goes in its one arena (Net::PlanMemory): entries (a node's
// value or gradient) live over intervals of steps, and entries live at the same time must not
// overlap in memory; and, for each step, the largest stretch of the arena no entry holds then
// (lent to the step's pass for its scratch: pass_scratch.h). Pure arithmetic on sizes and
// intervals, no tensors: Net allocates the arena and cuts the views. Not here: the intervals
// themselves (net.h's PlanMemory says what lives when).
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "umbra/base.h"

namespace umbra::nn {

/// Offsets for entries placed in `order`, each at the lowest offset (a multiple of kAlign
/// elements) clear of the placed entries it overlaps in time (intervals [first, last], inclusive);
/// returns the arena's size. The placed entries are kept sorted by offset, so each placement is
/// one scan with no sort: a 20,000-layer chain, where every value lives until its backward
/// step and so overlaps every other, started in 4.4 s instead of 24 s (RESULTS.md).
inline index_t PackOffsets(const std::vector<index_t>& size, const std::vector<int>& first,
                           const std::vector<int>& last, const std::vector<int>& order, std::vector<index_t>* offset) {
  constexpr index_t kAlign = 64;
  struct Placed {
    index_t begin, end;
    int first, last;
  };
  offset->assign(size.size(), 0);
  std::vector<Placed> placed;  // by begin
  placed.reserve(order.size());
  index_t total = 0;
  for (int k : order) {
    const index_t need = (size[k] + kAlign - 1) / kAlign * kAlign;
    index_t at = 0;
    for (const Placed& p : placed) {
      if (p.first > last[k] || first[k] > p.last) continue;  // not live with k
      if (at + need <= p.begin) break;
      at = std::max(at, (p.end + kAlign - 1) / kAlign * kAlign);
    }
    (*offset)[k] = at;
    total = std::max(total, at + need);
    const Placed mine{at, at + size[k], first[k], last[k]};
    placed.insert(std::upper_bound(placed.begin(), placed.end(), mine,
                                   [](const Placed& a, const Placed& b) { return a.begin < b.begin; }),
                  mine);
  }
  return total;
}

/// Where the entries go: offsets in elements, and the arena's size.
struct ArenaPlan {
  std::vector<index_t> offset;
  index_t total = 0;
};

/// Offsets (multiples of 64 elements: 256 bytes for float, the alignment vector loads and cuDNN
/// like) placing entries one at a time, each at the lowest offset clear of the placed entries
/// it overlaps in time. This packs close to the peak of live bytes, where a pool of whole
/// buffers wastes what a small node leaves of a large buffer. Greedy placement is not optimal:
/// a few orders of placement, the one that packs tightest. Largest first, ties in entry order
/// (the plain rule), or ties longest-lived first, or the longest-lived first. (ResNet-50 with
/// its sums' gradients passed on: 10,364 MiB largest first, 10,315 with the other two, its
/// peak of live bytes; AlexNet 342, 339 and 349.)
inline ArenaPlan PlanArena(const std::vector<index_t>& size, const std::vector<int>& first,
                           const std::vector<int>& last) {
  const size_t n = size.size();
  auto length = [&](int k) { return last[k] - first[k]; };
  const std::vector<std::function<bool(int, int)>> orders = {
      [&](int a, int b) { return size[a] > size[b]; },
      [&](int a, int b) { return size[a] != size[b] ? size[a] > size[b] : length(a) > length(b); },
      [&](int a, int b) { return length(a) != length(b) ? length(a) > length(b) : size[a] > size[b]; },
  };
  ArenaPlan best;
  best.total = -1;
  std::vector<index_t> trial;
  for (const auto& before : orders) {
    std::vector<int> order(n);
    for (size_t k = 0; k < n; ++k) order[k] = int(k);
    std::stable_sort(order.begin(), order.end(), before);
    const index_t t = PackOffsets(size, first, last, order, &trial);
    if (best.total < 0 || t < best.total) best.total = t, best.offset = trial;
  }
  if (best.total < 0) best.total = 0;
  return best;
}

/// The plan `before` of the first `nodes` entries, with the rest (a pass's scratch, live at one
/// step each) added: the tighter of a new plan of all (PlanArena) and the nodes placed again in
/// the order of their offsets before (each lands at or below where it was, so the nodes take no
/// more than before) with the rest after them, largest first, each at the lowest offset clear
/// of what is live at its step (so at most before's total plus the largest of them). The
/// second bounds the result by what scratch beside the arena cost; the first can pack tighter.
inline ArenaPlan PlanArenaAround(const ArenaPlan& before, size_t nodes, const std::vector<index_t>& size,
                                 const std::vector<int>& first, const std::vector<int>& last) {
  ArenaPlan best = PlanArena(size, first, last);
  std::vector<int> order(size.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = int(k);
  std::stable_sort(order.begin(), order.begin() + std::ptrdiff_t(nodes),
                   [&](int a, int b) { return before.offset[size_t(a)] < before.offset[size_t(b)]; });
  std::stable_sort(order.begin() + std::ptrdiff_t(nodes), order.end(),
                   [&](int a, int b) { return size[size_t(a)] > size[size_t(b)]; });
  std::vector<index_t> offset;
  const index_t t = PackOffsets(size, first, last, order, &offset);
  if (t < best.total) best.total = t, best.offset = std::move(offset);
  return best;
}

/// For each step s in [0, steps): the largest stretch [begin, begin + length) of the arena
/// [0, total) that no entry live at s (first <= s <= last) overlaps, begin a multiple of
/// `align` elements; length 0 where none is left. One sweep over the steps with the live
/// entries kept sorted by offset: each step reads only what is live then.
inline std::vector<std::pair<index_t, index_t>> LargestGaps(const std::vector<index_t>& size,
                                                           const std::vector<int>& first,
                                                           const std::vector<int>& last,
                                                           const std::vector<index_t>& offset, index_t total,
                                                           int steps, index_t align) {
  std::vector<std::pair<index_t, index_t>> gaps(size_t(std::max(steps, 0)), {0, 0});
  // Entries by the step they come alive at and the step they die after, within [0, steps).
  std::vector<std::vector<int>> born(gaps.size()), dies(gaps.size());
  for (size_t k = 0; k < size.size(); ++k) {
    const int from = std::max(first[k], 0), to = std::min(last[k], steps - 1);
    if (size[k] <= 0 || from > to) continue;
    born[size_t(from)].push_back(int(k));
    dies[size_t(to)].push_back(int(k));
  }
  using Live = std::pair<index_t, int>;  // offset, entry
  std::vector<Live> live;
  for (int s = 0; s < steps; ++s) {
    for (int k : born[size_t(s)]) {
      const Live e{offset[size_t(k)], k};
      live.insert(std::lower_bound(live.begin(), live.end(), e), e);
    }
    index_t at = 0;
    auto stretch = [&](index_t b) {  // the free stretch from `at` up to b
      const index_t from = (at + align - 1) / align * align;
      if (b > from && b - from > gaps[size_t(s)].second) gaps[size_t(s)] = {from, b - from};
    };
    for (const auto& [b, k] : live) {
      stretch(b);
      at = std::max(at, b + size[size_t(k)]);
    }
    stretch(total);  // the arena's end closes the last stretch
    for (int k : dies[size_t(s)])
      live.erase(std::lower_bound(live.begin(), live.end(), Live{offset[size_t(k)], k}));
  }
  return gaps;
}

}  // namespace umbra::nn
