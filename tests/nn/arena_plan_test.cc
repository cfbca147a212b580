// The arena placement of net memory planning (arena_plan.h) on its own: entries live at the same
// time never overlap, entries that do not may share bytes, offsets keep the 64-element
// alignment, and the tightest of the orders tried is the one kept (each of the three wins a
// case); each step's largest free stretch (what a pass may use for scratch) overlaps nothing
// live then and is the longest one.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "umbra/nn/arena_plan.h"

namespace umbra {
namespace arena_plan_test {

// Every pair of entries live at once is disjoint in [offset, offset + size); every offset a
// multiple of 64; the arena holds them all.
void ExpectValid(const nn::ArenaPlan& p, const std::vector<index_t>& size, const std::vector<int>& first,
                 const std::vector<int>& last) {
  ASSERT_EQ(p.offset.size(), size.size());
  for (size_t a = 0; a < size.size(); ++a) {
    EXPECT_EQ(p.offset[a] % 64, 0) << "entry " << a;
    EXPECT_LE(p.offset[a] + size[a], p.total) << "entry " << a;
    for (size_t b = a + 1; b < size.size(); ++b) {
      if (first[a] > last[b] || first[b] > last[a]) continue;
      EXPECT_TRUE(p.offset[a] + size[a] <= p.offset[b] || p.offset[b] + size[b] <= p.offset[a])
          << "entries " << a << " and " << b << " live together and overlap";
    }
  }
}

TEST(ArenaPlan, LiveEntriesNeverOverlapAndDeadOnesShare) {
  // A chain of a forward: each value read by the next step only, so two at a time are live.
  const std::vector<index_t> size = {1000, 700, 700, 300, 1000};
  const std::vector<int> first = {0, 1, 2, 3, 4}, last = {1, 2, 3, 4, 5};
  const nn::ArenaPlan p = nn::PlanArena(size, first, last);
  ExpectValid(p, size, first, last);
  // The peak of live elements, each rounded up to 64: entries 0 and 1 at step 1, 1,024 + 704
  // (a buffer each would take 3,776).
  EXPECT_EQ(p.total, 1728);
  EXPECT_EQ(nn::PlanArena({}, {}, {}).total, 0);
}

// Sizes not multiples of 64 and entries live at once across every step: the sum of the rounded
// sizes, nothing shared.
TEST(ArenaPlan, AllLiveAtOnceStackUp) {
  const std::vector<index_t> size = {1, 65, 128, 200};
  const std::vector<int> first = {0, 0, 0, 0}, last = {3, 3, 3, 3};
  const nn::ArenaPlan p = nn::PlanArena(size, first, last);
  ExpectValid(p, size, first, last);
  EXPECT_EQ(p.total, 64 + 128 + 128 + 256);
}

// Four entries of 64 elements, never more than two live at once: in entry order (largest
// first, all sizes tied) the third lands above the second and the fourth above both (192);
// longest-lived first packs them into 128. The plan keeps the tighter.
TEST(ArenaPlan, KeepsTheTightestOrder) {
  const std::vector<index_t> size = {64, 64, 64, 64};
  const std::vector<int> first = {0, 3, 2, 0}, last = {0, 5, 3, 2};
  std::vector<index_t> off;
  EXPECT_EQ(nn::PackOffsets(size, first, last, {0, 1, 2, 3}, &off), 192);
  EXPECT_EQ(nn::PackOffsets(size, first, last, {1, 3, 2, 0}, &off), 128);
  const nn::ArenaPlan p = nn::PlanArena(size, first, last);
  ExpectValid(p, size, first, last);
  EXPECT_EQ(p.total, 128);
}

// Each order packs tightest somewhere (random four-entry cases, found by search): a plan that
// left any of the three out would pack one of these looser.
TEST(ArenaPlan, EachOrderWinsSomewhere) {
  struct Case {
    const char* wins;
    std::vector<index_t> size;
    std::vector<int> first, last;
    index_t best;  // the other two orders pack looser
  };
  const Case cases[] = {
      {"largest first", {64, 128, 128, 192}, {1, 2, 3, 0}, {2, 3, 5, 1}, 256},          // 256, 320, 320
      {"ties longest-lived first", {64, 128, 192, 128}, {0, 3, 1, 2}, {2, 4, 1, 5}, 256},  // 320, 256, 384
      {"longest-lived first", {64, 128, 64, 128}, {0, 3, 1, 0}, {2, 6, 3, 0}, 192},        // 256, 256, 192
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.wins);
    const nn::ArenaPlan p = nn::PlanArena(c.size, c.first, c.last);
    ExpectValid(p, c.size, c.first, c.last);
    EXPECT_EQ(p.total, c.best);
  }
}

// The chain of the first test (an arena of 1,728): step 0 holds entry 0 alone (1,024 rounded),
// leaving 704; step 2 entries 1 and 2 (704 each), leaving 320; a step past every interval has
// the whole arena.
TEST(ArenaPlan, LargestGapOfAStep) {
  const std::vector<index_t> size = {1000, 700, 700, 300, 1000};
  const std::vector<int> first = {0, 1, 2, 3, 4}, last = {1, 2, 3, 4, 5};
  const nn::ArenaPlan p = nn::PlanArena(size, first, last);
  const auto gaps = nn::LargestGaps(size, first, last, p.offset, p.total, 7, 64);
  ASSERT_EQ(gaps.size(), 7u);
  ASSERT_EQ(p.total, 1728);
  EXPECT_EQ(gaps[0].second, 704);
  EXPECT_EQ(gaps[2].second, 320);
  EXPECT_EQ(gaps[6], (std::pair<index_t, index_t>{0, p.total}));
  EXPECT_TRUE(nn::LargestGaps({}, {}, {}, {}, 0, 2, 64) == (std::vector<std::pair<index_t, index_t>>(2, {0, 0})));
}

// 1-8 entries of 1-300 elements over 1-10 steps, each live over a random interval of them.
struct RandomEntries {
  int steps;
  std::vector<index_t> size;
  std::vector<int> first, last;
  explicit RandomEntries(std::mt19937& rng) {
    const int n = 1 + int(rng() % 8);
    steps = 1 + int(rng() % 10);
    for (int k = 0; k < n; ++k) {
      size.push_back(1 + index_t(rng() % 300));
      first.push_back(int(rng() % steps));
      last.push_back(first.back() + int(rng() % (steps - first.back())));
    }
  }
};

// Random plans against a count over every element: the gap holds no element of an entry live
// at its step, starts on the alignment, and no aligned free stretch of that step is longer.
TEST(ArenaPlan, GapsHoldNothingLiveAndAreTheLongest) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const RandomEntries r(rng);
    const int n = int(r.size.size()), steps = r.steps;
    const std::vector<index_t>& size = r.size;
    const std::vector<int>& first = r.first, &last = r.last;
    const nn::ArenaPlan p = nn::PlanArena(size, first, last);
    const auto gaps = nn::LargestGaps(size, first, last, p.offset, p.total, steps, 16);
    for (int s = 0; s < steps; ++s) {
      SCOPED_TRACE("trial " + std::to_string(trial) + " step " + std::to_string(s));
      std::vector<bool> used(size_t(p.total), false);
      for (int k = 0; k < n; ++k)
        if (first[k] <= s && s <= last[k])
          for (index_t i = 0; i < size[k]; ++i) used[size_t(p.offset[k] + i)] = true;
      const auto [b, len] = gaps[s];
      EXPECT_EQ(b % 16, 0);
      EXPECT_LE(b + len, p.total);
      for (index_t i = b; i < b + len; ++i) ASSERT_FALSE(used[size_t(i)]) << "element " << i;
      index_t longest = 0;
      for (index_t from = 0; from < p.total; from += 16) {
        index_t e = from;
        while (e < p.total && !used[size_t(e)]) ++e;
        longest = std::max(longest, e - from);
      }
      EXPECT_EQ(len, longest);
    }
  }
}

// A pass's scratch planned into an arena (Net::PlanScratch): random node plans with one
// scratch entry at some steps, live there alone. The result holds everything apart, is no
// larger than the nodes' arena plus the largest scratch entry (what scratch beside the arena
// cost) nor than a plan of all anew, and each scratch entry lies within one of its step's
// gaps among the nodes (what Net lends that pass).
TEST(ArenaPlan, ScratchPlannedAroundTheNodes) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const RandomEntries r(rng);
    const int n = int(r.size.size()), steps = r.steps;
    const std::vector<index_t>& size = r.size;
    const std::vector<int>& first = r.first, &last = r.last;
    const nn::ArenaPlan nodes = nn::PlanArena(size, first, last);
    std::vector<index_t> all_size = size;
    std::vector<int> all_first = first, all_last = last;
    index_t largest = 0;
    for (int s = 0; s < steps; ++s) {
      if (rng() % 2) continue;
      all_size.push_back(1 + index_t(rng() % 500));
      all_first.push_back(s), all_last.push_back(s);
      largest = std::max(largest, (all_size.back() + 63) / 64 * 64);
    }
    const nn::ArenaPlan p = nn::PlanArenaAround(nodes, size_t(n), all_size, all_first, all_last);
    ExpectValid(p, all_size, all_first, all_last);
    EXPECT_LE(p.total, nodes.total + largest);
    EXPECT_LE(p.total, nn::PlanArena(all_size, all_first, all_last).total);
    const std::vector<index_t> node_offset(p.offset.begin(), p.offset.begin() + n);
    const auto gaps = nn::LargestGaps(size, first, last, node_offset, p.total, steps, 64);
    for (size_t k = size_t(n); k < all_size.size(); ++k)
      EXPECT_GE(gaps[size_t(all_first[k])].second, all_size[k]) << "scratch entry " << k;
  }
}

}  // namespace arena_plan_test
}  // namespace umbra
