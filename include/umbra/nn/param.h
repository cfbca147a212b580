// Layer (and updater) parameters declared once: name, default, allowed range, and a one-line doc.
// The same declaration sets values from config strings (with errors naming the key and the
// allowed values), prints --help text, and will feed Python and the docs. Not here: which keys a
// config file may hold (config/), layer logic (layer.h).
//   struct FullcParam {
//     int nhidden = 0; bool no_bias = false;
//     static const ParamDecl<FullcParam>& Decl() {
//       static const auto d = ParamDecl<FullcParam>()
//           .Field(&FullcParam::nhidden, "nhidden", "number of output units").Min(1).Required()
//           .Field(&FullcParam::no_bias, "no_bias", "1: no bias term");
//       return d; } };
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "umbra/logging.h"
#include "umbra/parse.h"

namespace umbra::nn {

namespace detail {
/// Parses `v` as T or throws with the key named. Booleans accept 0/1/true/false.
template <typename T>
T ParseValue(const std::string& key, const std::string& v) {
  auto fail = [&](const char* what) -> T {
    UMBRA_THROW("bad value '", v, "' for key '", key, "': expected ", what);
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (v == "1" || v == "true") return true;
    if (v == "0" || v == "false") return false;
    return fail("0, 1, true or false");
  } else if constexpr (std::is_integral_v<T>) {
    using limits = std::numeric_limits<T>;
    constexpr long long lo = std::is_signed_v<T> ? static_cast<long long>(limits::min()) : 0;
    constexpr long long hi = static_cast<unsigned long long>(limits::max()) > LLONG_MAX
                                 ? LLONG_MAX : static_cast<long long>(limits::max());
    const auto x = ParseInteger(v, lo, hi);
    // nhidden = 3000000000 is an integer, past the field's range: say which (of any size).
    if (!x)
      return SpellsInteger(v) ? fail(("an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str())
                              : fail("an integer");
    return static_cast<T>(*x);
  } else if constexpr (std::is_floating_point_v<T>) {
    // Finite as T: nan, inf and 1e39 (inf as a float) would reach every output unannounced.
    const auto x = ParseReal(v);
    if (x && SpellsHex(v)) return fail("a decimal number (hexadecimal is not read)");
    if (!x || !std::isfinite(static_cast<T>(*x))) return fail("a finite number");
    // eta = 1e-50 is 0 as a float (1e-400 already to strtod): a rate that stops training, unsaid.
    if (static_cast<T>(*x) == 0 && SpellsNonzero(v))
      return fail(std::is_same_v<T, float> ? "a number a float holds (this one rounds to 0)"
                                           : "a number a double holds (this one rounds to 0)");
    // Below the smallest normal float (1.18e-38; 1e-40 is a denormal) umbra's CPU arithmetic,
    // which flushes denormals, takes it as 0: adam's eps = 1e-39 was 0 there, and a zero
    // gradient's step 0/0.
    if (std::is_same_v<T, float> && static_cast<float>(*x) != 0 &&
        std::abs(static_cast<float>(*x)) < std::numeric_limits<float>::min())
      return fail("a number a float holds at full precision (this one is below 1.18e-38, which umbra's CPU "
                  "arithmetic flushes to 0)");
    return static_cast<T>(*x);
  } else {
    return v;  // std::string
  }
}
template <typename T>
std::string ToText(const T& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace detail

/// The declaration of every parameter of a struct P.
template <typename P>
class ParamDecl {
 public:
  struct Entry {
    std::string name, doc, type, default_text, range_text;
    std::vector<std::string> aliases;  // other names of the key (cxxnet's eta for lr)
    bool required = false;
    /// set(p, key, value): `key` is the name the value was given under, for the errors.
    std::function<void(P&, const std::string&, const std::string&)> set;
    std::function<std::string(const P&)> get;
    /// A floating field's type's rounding of a value (0.99999999 is 1 as a float); empty otherwise.
    std::function<double(double)> as_stored;
  };

  /// Declares a field; the struct's initializer is its default.
  template <typename T>
  ParamDecl& Field(T P::*member, const char* name, const char* doc) {
    Entry e;
    e.name = name;
    e.doc = doc;
    e.type = std::is_same_v<T, bool> ? "bool"
             : std::is_integral_v<T> ? "int"
             : std::is_floating_point_v<T> ? "float"
                                           : "string";
    e.default_text = detail::ToText(P{}.*member);
    e.set = [member](P& p, const std::string& key, const std::string& v) {
      p.*member = detail::ParseValue<T>(key, v);
    };
    e.get = [member](const P& p) { return detail::ToText(p.*member); };
    if constexpr (std::is_floating_point_v<T>)  // a bound past T's range (Min's) stays as it is
      e.as_stored = [](double x) { return std::abs(x) <= double(std::numeric_limits<T>::max()) ? double(T(x)) : x; };
    entries_.push_back(std::move(e));
    return *this;
  }
  /// Range of the last declared numeric field (inclusive).
  ParamDecl& Range(double lo, double hi) {
    return Bound(lo, hi, "[" + detail::ToText(lo) + ", " + detail::ToText(hi) + "]");
  }
  /// Range [lo, hi) of the last declared numeric field (dropout's threshold = 1 divides by zero).
  ParamDecl& RangeOpenAbove(double lo, double hi) {
    return Bound(lo, hi, "[" + detail::ToText(lo) + ", " + detail::ToText(hi) + ")", /*hi_open=*/true);
  }
  /// Range (lo, hi] of the last declared numeric field (cxxnet's adam beta1 = 0 divides by zero).
  ParamDecl& RangeOpenBelow(double lo, double hi) {
    return Bound(lo, hi, "(" + detail::ToText(lo) + ", " + detail::ToText(hi) + "]", false, /*lo_open=*/true);
  }
  ParamDecl& Min(double lo) { return Bound(lo, std::numeric_limits<double>::max(), ">= " + detail::ToText(lo)); }
  /// The last declared numeric field must be greater than lo.
  ParamDecl& Above(double lo) {
    return Bound(lo, std::numeric_limits<double>::max(), "> " + detail::ToText(lo), false, /*lo_open=*/true);
  }
  /// Allowed values of the last declared string field.
  ParamDecl& OneOf(std::vector<std::string> allowed) {
    Entry& e = entries_.back();
    std::string all;
    for (auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
    e.range_text = "{" + all + "}";
    auto inner = e.set;
    e.set = [inner, allowed, all](P& p, const std::string& key, const std::string& v) {
      bool ok = false;
      for (auto& a : allowed) ok = ok || a == v;
      UMBRA_CHECK(ok, "bad value '", v, "' for key '", key, "': expected one of ", all);
      inner(p, key, v);
    };
    return *this;
  }
  /// Another name of the last declared field (cxxnet's eta for lr); errors name the key as given.
  ParamDecl& Alias(const char* name) {
    entries_.back().aliases.push_back(name);
    return *this;
  }
  /// After the last declared field is set, then(p) runs (declare it after the field's bounds):
  /// kernel_size clears the kernel_height a block gave before it, so that the later key wins, as
  /// in cxxnet, whose kernel_size wrote both sides.
  ParamDecl& Then(std::function<void(P&)> then) {
    Entry& e = entries_.back();
    e.set = [inner = e.set, then = std::move(then)](P& p, const std::string& key, const std::string& v) {
      inner(p, key, v);
      then(p);
    };
    return *this;
  }
  /// The last declared field must be given (checked by CheckRequired).
  ParamDecl& Required() {
    entries_.back().required = true;
    return *this;
  }

  /// Sets key=value; false when the key is not declared (the caller decides what that means).
  bool Set(P& p, const std::string& key, const std::string& value) const {
    for (const Entry& e : entries_)
      if (e.name == key || std::ranges::find(e.aliases, key) != e.aliases.end()) {
        e.set(p, key, value);
        return true;
      }
    return false;
  }
  /// Throws naming `owner` and the first required key in `given` that is missing.
  void CheckRequired(const std::vector<std::string>& given, const std::string& owner) const {
    for (const Entry& e : entries_) {
      if (!e.required) continue;
      bool found = false;
      for (auto& g : given) found = found || g == e.name || std::ranges::find(e.aliases, g) != e.aliases.end();
      UMBRA_CHECK(found, owner, ": required key '", e.name, "' (", e.doc, ") is not set");
    }
  }
  const std::vector<Entry>& entries() const { return entries_; }
  /// Every name Set takes, aliases included (for suggestions and key lists).
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const Entry& e : entries_) {
      names.push_back(e.name);
      names.insert(names.end(), e.aliases.begin(), e.aliases.end());
    }
    return names;
  }
  /// One line per key: "  name (type, default d, range r): doc".
  std::string Help() const {
    std::ostringstream os;
    for (const Entry& e : entries_) {
      os << "  " << e.name;
      for (const std::string& a : e.aliases) os << " (or " << a << ")";
      os << " (" << e.type;
      if (e.required) os << ", required";
      else os << ", default " << (e.default_text.empty() ? "\"\"" : e.default_text);
      if (!e.range_text.empty()) os << ", " << e.range_text;
      os << "): " << e.doc << "\n";
    }
    return os.str();
  }

 private:
  // The last declared field takes values within [lo, hi] only (either end open where asked;
  // shown as `text`). Its type's own check comes first, on a copy, so that "12abc" is "expected
  // an integer" whatever the range and a value out of range leaves the parameters as they were.
  // A float field's value is also checked as stored, against the bounds as stored: rounding
  // keeps a closed bound's order (eps = 1e-20 stays at its bound 1e-20, both 9.99999968e-21 as
  // floats) but not an open one's (threshold = 0.99999999 is 1 as a float, outside [0, 1)).
  ParamDecl& Bound(double lo, double hi, std::string text, bool hi_open = false, bool lo_open = false) {
    Entry& e = entries_.back();
    e.range_text = text;
    auto inner = e.set;
    e.set = [inner, as_stored = e.as_stored, lo, hi, text, hi_open, lo_open](P& p, const std::string& key,
                                                                             const std::string& v) {
      P q = p;
      inner(q, key, v);
      auto within = [&](double x, double l, double h) {
        return (lo_open ? x > l : x >= l) && (hi_open ? x < h : x <= h);
      };
      const double given = detail::ParseValue<double>(key, v);
      const bool given_ok = within(given, lo, hi);
      const double stored = as_stored ? as_stored(given) : given;
      const bool stored_ok = !as_stored || within(stored, as_stored(lo), as_stored(hi));
      UMBRA_CHECK(given_ok && stored_ok, "value ", v,
                  given_ok ? " (" + detail::ToText(stored) + " as stored)" : "", " for key '", key, "' ",
                  text[0] == '[' || text[0] == '(' ? "is outside " : "must be ", text);
      p = std::move(q);
    };
    return *this;
  }
  std::vector<Entry> entries_;
};

}  // namespace umbra::nn
