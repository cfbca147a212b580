// Whole-text numbers for every reader of text (config keys, iterator and layer keys, model-file
// meta entries, fixconn and image-list files). strtol alone reads "12abc" as 12, "" as 0 and
// saturates past its range without a word; these take the whole text or nothing. Whether the
// text is a number is all they answer: each caller's error names its own file, line and key.
// Beside them, the words such errors share: text quoted with its control bytes escaped
// (Visible), a line's carriage return, an instance of a data set.
#pragma once

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace umbra {

/// The integer `s` spells in decimal (leading blanks and a sign allowed), or nothing where it is
/// empty, holds anything else, or lies outside [lo, hi] (or a long long's range).
inline std::optional<long long> ParseInteger(const std::string& s, long long lo = LLONG_MIN,
                                             long long hi = LLONG_MAX) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  // end is checked against the text's own end: a NUL inside it ("16\0zz") ended the number.
  if (end != s.c_str() + s.size() || errno == ERANGE || v < lo || v > hi) return std::nullopt;
  return v;
}

/// Whether `s` spells a decimal integer of any size as ParseInteger reads one (leading blanks, a
/// sign, digits): where ParseInteger refused such a text, it is out of range, and a caller's error
/// says so ("99999999999999999999 is not an integer" was the wrong word).
inline bool SpellsInteger(const std::string& s) {
  size_t i = s.find_first_not_of(" \t\n\v\f\r");
  if (i == std::string::npos) return false;
  if (s[i] == '+' || s[i] == '-') ++i;
  return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}

/// What is wrong with `s` as an index (an integer >= 0 that ParseInteger(s, 0) refused), for the
/// errors of image lists and fixconn files: past a long long, or no non-negative integer.
inline const char* IndexProblem(const std::string& s) {
  return SpellsInteger(s) && s.find('-') == std::string::npos ? "out of range [0, 2^63)" : "not a non-negative integer";
}

/// The number `s` spells (strtod's forms: 1.5, -2e3, inf, nan, 0x1p3), or nothing where it is
/// empty or holds anything else. Finiteness and the range of the caller's type are the caller's
/// to check.
inline std::optional<double> ParseReal(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

/// `s` as an error message quotes it: control bytes written as escapes (\t, \r, \v, \f, \n,
/// else \xNN), so that a field "4\v" is not shown as a bare 4.
inline std::string Visible(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
      continue;
    }
    switch (c) {
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\v': out += "\\v"; break;
      case '\f': out += "\\f"; break;
      default: out += std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
    }
  }
  return out;
}

/// For a line of a text data file as getline gives it: "" where it holds no carriage return but
/// at its end (CRLF, CR CR LF), else what is wrong. Files whose lines end in a lone CR (classic
/// Mac OS) are one line to getline, and the errors that followed quoted a CR, garbling the
/// terminal's line. `sep` (',' in a csv) counts the column the CR is in; '\0' names none.
inline std::string CarriageReturnProblem(const std::string& line, char sep = '\0') {
  const size_t cr = line.find('\r');
  if (cr == std::string::npos || line.find_first_not_of('\r', cr) == std::string::npos) return {};
  std::string problem =
      "a carriage return inside a line: lines that end in a lone CR (classic Mac OS) are not read; end them with LF "
      "or CRLF";
  if (sep != '\0')
    problem += " (column " + std::to_string(1 + std::count(line.begin(), line.begin() + std::ptrdiff_t(cr), sep)) +
               ": '" + Visible(line.substr(cr > 8 ? cr - 8 : 0, 16)) + "')";
  return problem;
}

/// How errors name an instance of a data set: "instance 6 of the data, from 0: bad.csv:7", the
/// iterator's Locate (`at`) where it says one.
inline std::string InstanceOfTheData(uint64_t index, const std::string& at) {
  return "instance " + std::to_string(index) + " of the data, from 0" + (at.empty() ? "" : ": " + at);
}

/// Whether two config values say the same thing: the same number however spelled (0.5 and 5e-1),
/// else the same text. Notes that one setting overrides another stay quiet when they agree.
inline bool SameSetting(const std::string& a, const std::string& b) {
  const auto x = ParseReal(a), y = ParseReal(b);
  return x && y ? *x == *y : a == b;
}

/// Whether `s` is in strtod's hexadecimal form (0x10, -0x1p3). Config values refuse it: `eta = 0x10`
/// read as 16 is more likely a slip than a wish. Data files (fixconn weights written with %a) take it.
inline bool SpellsHex(const std::string& s) {
  size_t i = s.find_first_not_of(" \t\n\v\f\r");
  if (i != std::string::npos && (s[i] == '+' || s[i] == '-')) ++i;
  return i != std::string::npos && i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
}

/// Whether decimal `s` has a nonzero digit before its exponent: where it reads as 0 (1e-400 to
/// strtod, 1e-50 as a float), the value lies below what its type holds and a caller says so.
inline bool SpellsNonzero(const std::string& s) {
  return s.find_first_of("123456789") < std::min(s.find_first_of("eE"), s.size());
}

}  // namespace umbra
