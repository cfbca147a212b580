// "Did you mean" for unknown keys: the closest known key by edit distance, where it is close
// enough to be a typo of it (nhiden -> nhidden, num_rnd -> num_round, momentun -> momentum).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace umbra {

/// Edits (insert, delete, substitute, swap two neighbours) that turn a into b.
inline size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

/// "; did you mean 'k'?" for the known key k closest to `word` (the first of equals), where at
/// most a third of word's letters (two at most, one for words of up to five) differ; else "".
inline std::string DidYouMean(const std::string& word, const std::vector<std::string>& known) {
  const size_t limit = std::min<size_t>(2, std::max<size_t>(1, word.size() / 3));
  const std::string* best = nullptr;
  size_t best_d = limit + 1;
  for (const std::string& k : known) {
    // Lengths further apart than the limit cannot be close: skipping them keeps a long word (a
    // data file given as the config) from costing a word-by-key table per known key.
    if (k.size() + limit < word.size() || word.size() + limit < k.size()) continue;
    const size_t d = EditDistance(word, k);
    if (d < best_d && k != word) best = &k, best_d = d;
  }
  return best ? "; did you mean '" + *best + "'?" : "";
}

}  // namespace umbra
