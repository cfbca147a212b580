// The iterator registry and small helpers shared by the iterators (iterator.h).
#include "umbra/io/iterator.h"

#include <algorithm>
#include <climits>
#include <map>

#include "umbra/parse.h"

namespace umbra::io {
namespace {

template <typename F>
std::map<std::string, F>& Table() {
  static std::map<std::string, F> t;
  return t;
}
template <typename F>
std::vector<std::string> Keys() {
  std::vector<std::string> k;
  for (auto& [n, f] : Table<F>()) k.push_back(n);
  return k;
}
std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The keys recorded while ListKeys runs on this thread; null otherwise.
thread_local std::vector<KeyDoc>* listing = nullptr;

}  // namespace

bool IsKey(const std::string& k, const char* name, const char* doc) {
  if (listing == nullptr) return k == name;
  if (std::ranges::none_of(*listing, [&](const KeyDoc& d) { return d.name == name; }))
    listing->push_back({name, doc});
  return false;
}

std::vector<KeyDoc> ListKeys(DataIterator& it) {
  std::vector<KeyDoc> keys;
  listing = &keys;
  try {
    it.SetParam("", "");
  } catch (...) {
    listing = nullptr;
    throw;
  }
  listing = nullptr;
  return keys;
}

bool RegisterIterator(const std::string& name, IteratorFactory make) {
  return Table<IteratorFactory>().emplace(name, make).second;
}
bool RegisterChain(const std::string& name, ChainFactory make) {
  return Table<ChainFactory>().emplace(name, make).second;
}
std::vector<std::string> IteratorNames() { return Keys<IteratorFactory>(); }
std::vector<std::string> ChainNames() { return Keys<ChainFactory>(); }

namespace {
// cxxnet's iterators that umbra has not: named for what they were, where "unknown" or "cannot
// be chained" misnamed a real cxxnet config's line.
std::string CxxnetOnly(const std::string& type) {
  if (type == "attachtxt")
    return "cxxnet's attachtxt (extra data per instance from a text file) is not in umbra: no iterator gives "
           "extra data yet";
  if (type == "imgbinx" || type == "imgbinold" || type == "imginst")
    return "cxxnet's " + type + " (its older image page formats) is not in umbra: repack the images with "
           "umbra im2rec and read them with imgrec";
  return {};
}
}  // namespace

std::unique_ptr<DataIterator> CreateIterator(const std::string& type) {
  auto it = Table<IteratorFactory>().find(type);
  const std::string cxxnet = CxxnetOnly(type);
  UMBRA_CHECK(cxxnet.empty(), "iterator '", type, "': ", cxxnet);
  // A chained one first in its block (iter = membuffer before iter = csv) was "unknown".
  UMBRA_CHECK(!Table<ChainFactory>().count(type), "iterator '", type, "' is chained onto the iterator before it in ",
              "its block (iter = csv, then iter = ", type, "), and begins none; known first: ", Join(IteratorNames()));
  UMBRA_CHECK(it != Table<IteratorFactory>().end(), "unknown iterator '", type, "'; known: ",
              Join(IteratorNames()), " (chained: ", Join(ChainNames()), ")");
  return it->second();
}
std::unique_ptr<DataIterator> ChainIterator(const std::string& type, std::unique_ptr<DataIterator> base) {
  auto it = Table<ChainFactory>().find(type);
  const std::string cxxnet = CxxnetOnly(type);
  UMBRA_CHECK(cxxnet.empty(), "iterator '", type, "': ", cxxnet);
  UMBRA_CHECK(it != Table<ChainFactory>().end(), "iterator '", type, "' cannot be chained; chained: ",
              Join(ChainNames()));
  return it->second(std::move(base));
}

Shape<3> ParseShape3(const std::string& text, const std::string& what) {
  Shape<3> s;
  size_t b = 0;
  for (int i = 0; i < 3; ++i) {
    const size_t e = text.find(',', b);
    UMBRA_CHECK((i < 2) == (e != std::string::npos), what, " must be c,h,w, got '", text, "'");
    const std::string part = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
    const auto v = ParseInteger(part, 1, LLONG_MAX);
    UMBRA_CHECK(v, what, " must be three positive integers c,h,w, got '", text, "'");
    s[i] = index_t(*v);
    b = e + 1;
  }
  return s;
}

uint64_t EpochSeed(uint64_t seed, uint64_t epoch) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + epoch + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace umbra::io
