// Where each node buffer of a net goes in its one arena (Net::PlanMemory): entries (a node's
// value or gradient) live over intervals of steps, and entries live at the same time must not
// overlap in memory; and, for each step, the largest stretch of the arena no entry holds then
// (lent to the step's pass for its scratch: pass_scratch.h). Pure arithmetic on sizes and
// intervals, no tensors: Net allocates the arena and cuts the views. Not here: the intervals
// themselves (net.h's PlanMemory says what lives when).
#pragma once

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "umbra/base.h"

namespace umbra::nn {

/// Offsets for entries placed in `order`, each at the lowest offset (a multiple of kAlign
/// elements) clear of the placed entries it overlaps in time (intervals [first, last], inclusive);
/// returns the arena's size.
inline index_t PackOffsets(const std::vector<index_t>& size, const std::vector<int>& first,
                           const std::vector<int>& last, const std::vector<int>& order, std::vector<index_t>* offset) {
  constexpr index_t kAlign = 64;
  offset->assign(size.size(), 0);
  std::vector<int> placed;
  index_t total = 0;
  for (int k : order) {
    const index_t need = (size[k] + kAlign - 1) / kAlign * kAlign;
    std::vector<std::pair<index_t, index_t>> busy;  // [begin, end) of entries live with k
    for (int p : placed)
      if (first[p] <= last[k] && first[k] <= last[p]) busy.push_back({(*offset)[p], (*offset)[p] + size[p]});
    std::sort(busy.begin(), busy.end());
    index_t at = 0;
    for (auto& [b, e] : busy) {
      if (at + need <= b) break;
      at = std::max(at, (e + kAlign - 1) / kAlign * kAlign);
    }
    (*offset)[k] = at;
    total = std::max(total, at + need);
    placed.push_back(k);
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

/// For each step s in [0, steps): the largest stretch [begin, begin + length) of the arena
/// [0, total) that no entry live at s (first <= s <= last) overlaps, begin a multiple of
/// `align` elements; length 0 where none is left.
inline std::vector<std::pair<index_t, index_t>> LargestGaps(const std::vector<index_t>& size,
                                                           const std::vector<int>& first,
                                                           const std::vector<int>& last,
                                                           const std::vector<index_t>& offset, index_t total,
                                                           int steps, index_t align) {
  std::vector<std::pair<index_t, index_t>> gaps(size_t(std::max(steps, 0)), {0, 0});
  std::vector<std::pair<index_t, index_t>> busy;
  for (int s = 0; s < steps; ++s) {
    busy.clear();
    for (size_t k = 0; k < size.size(); ++k)
      if (first[k] <= s && s <= last[k] && size[k] > 0) busy.push_back({offset[k], offset[k] + size[k]});
    busy.push_back({total, total});  // the arena's end closes the last stretch
    std::sort(busy.begin(), busy.end());
    index_t at = 0;
    for (auto& [b, e] : busy) {
      const index_t from = (at + align - 1) / align * align;
      if (b > from && b - from > gaps[s].second) gaps[s] = {from, b - from};
      at = std::max(at, e);
    }
  }
  return gaps;
}

}  // namespace umbra::nn
