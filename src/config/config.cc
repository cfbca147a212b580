// The cxxnet-syntax tokenizer and pair parser (config.h).
#include "umbra/config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "umbra/logging.h"
#include "umbra/regular_file.h"

namespace umbra::config {
namespace {

struct Token {
  std::string text;
  int line;
  bool quoted;
};

// Splits into tokens: whitespace separates, `=` is a token of its own, "..." and '...' are one
// token each (quotes removed), # runs to the end of the line. In quotes a backslash takes the
// next character as it is (\" is a quote, \\ a backslash, one before a line's end continues the
// value on the next line), and '...' may run over lines, as in cxxnet's reader; "..." otherwise
// ends on its line.
std::vector<Token> Tokenize(const std::string& text, const std::string& file) {
  std::vector<Token> out;
  int line = 1;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line, ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;  // every space character, or a token loop below would not advance (found by fuzzing)
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '=') {
      out.push_back({"=", line, false});
      ++i;
    } else if (c == '"' || c == '\'') {
      const int opened = line;
      std::string value;
      bool closed = false;
      for (++i; i < text.size(); ++i) {
        char d = text[i];
        if (d == c) {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < text.size()) d = text[++i];
        else if (d == '\n' && c == '"') break;  // "..." ends on its line
        if (d == '\n') ++line;
        value += d;
      }
      UMBRA_CHECK(closed, file, ":", opened, ": unterminated quoted string (", c == '"' ? "\"...\" ends on its line"
                  : "'...' runs to its closing '", ")");
      out.push_back({std::move(value), opened, true});
    } else {
      size_t j = i;
      while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])) && text[j] != '=' &&
             text[j] != '#')
        ++j;
      out.push_back({text.substr(i, j - i), line, false});
      i = j;
    }
  }
  return out;
}

// The offset of the first byte that is no part of well-formed UTF-8 (a Latin-1 é, an overlong or
// surrogate form), or npos: the JSON a model file's header is rejects it.
size_t FirstNonUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t n = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
    if (n == 0 || i + n >= s.size()) return i;
    // The second byte's range where the first allows less (no overlong, no surrogate, <= U+10FFFF).
    const unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return i;
    for (size_t k = 2; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    i += n + 1;
  }
  return std::string::npos;
}

}  // namespace

std::vector<Entry> ParseConfig(const std::string& text, const std::string& file) {
  // A UTF-8 byte-order mark (editors on Windows write one) is no part of the first key: read
  // as one, it made "num_round" an unknown key, ignored with a warning it did not show.
  const bool bom = text.starts_with("\xEF\xBB\xBF");
  // UTF-16 (Windows editors' "Unicode") and NUL bytes: a value ended at a NUL (nhidden =
  // 16<NUL>zz was 16), and UTF-16 text gave an error quoting its byte-order mark.
  UMBRA_CHECK(!text.starts_with("\xFF\xFE") && !text.starts_with("\xFE\xFF"), file,
              ": the file is UTF-16 text (it starts with UTF-16's byte-order mark); save it as UTF-8");
  // A lone CR ends a line, as in cxxnet's reader (classic Mac OS files; one in a file of LFs
  // ended a comment there, where here the comment ran on and swallowed the next line's key).
  // CRLF, and CR CR LF after two conversions, are one line end each.
  std::string lines;
  lines.reserve(text.size());
  for (size_t i = bom ? 3 : 0; i < text.size(); ++i) {
    if (text[i] != '\r') {
      lines += text[i];
      continue;
    }
    size_t j = i;  // a run of CRs: one line end before an LF, else one each
    while (j + 1 < text.size() && text[j + 1] == '\r') ++j;
    if (j + 1 < text.size() && text[j + 1] == '\n') {
      lines += '\n';
      i = j + 1;
    } else {
      lines.append(j - i + 1, '\n');
      i = j;
    }
  }
  if (const size_t nul = lines.find('\0'); nul != std::string::npos)
    UMBRA_THROW(file, ":", 1 + std::count(lines.begin(), lines.begin() + std::ptrdiff_t(nul), '\n'),
                ": a NUL byte (a config is text; is this a binary file?)");
  // A Latin-1 byte in a layer name or comment trained a round and then failed to save it, the
  // model header's JSON refusing it in words that named nothing.
  if (const size_t bad = FirstNonUtf8(lines); bad != std::string::npos)
    UMBRA_THROW(file, ":", 1 + std::count(lines.begin(), lines.begin() + std::ptrdiff_t(bad), '\n'), ": byte 0x",
                std::hex, int(static_cast<unsigned char>(lines[bad])), std::dec,
                " is not UTF-8 (a config is read as UTF-8 text; save it as UTF-8)");
  const std::vector<Token> t = Tokenize(lines, file);
  // One past the first byte (two files, each with one, joined) made its key unknown, the
  // message showing the key unchanged: the mark is invisible. (In a comment or a quoted value
  // it is text.)
  for (size_t i = 0; i < t.size(); ++i) {
    const bool name = i + 1 < t.size() && t[i + 1].text == "=" && !t[i + 1].quoted;  // "<mark>eta" = 1 too
    const size_t mark = t[i].quoted && !name ? std::string::npos : t[i].text.find("\xEF\xBB\xBF");
    if (mark == std::string::npos) continue;
    const std::string shown = std::string(t[i].text).erase(mark, 3);
    UMBRA_THROW(file, ":", t[i].line, ": a UTF-8 byte-order mark (the invisible U+FEFF)",
                shown.empty() ? std::string() : " in '" + shown + "'",
                ", past the start of the file, as where two files were joined; remove it");
  }
  std::vector<Entry> entries;
  for (size_t i = 0; i < t.size(); i += 3) {
    UMBRA_CHECK(!(t[i].text == "=" && !t[i].quoted), file, ":", t[i].line, ": '=' without a name before it");
    UMBRA_CHECK(!t[i].text.empty(), file, ":", t[i].line, ": an empty name (\"\") before '='");
    if (!(i + 1 < t.size() && t[i + 1].text == "=" && !t[i + 1].quoted)) {
      // Blanks split a value or a name into words (input_shape = 1, 1, 784; layer[ 1 -> 2 ]):
      // said so, with the line joined.
      const auto joined = [&](size_t from) {
        std::string r;
        for (size_t j = from; j < t.size() && t[j].line == t[from].line && !(t[j].text == "=" && !t[j].quoted); ++j)
          r += t[j].text;
        return r;
      };
      bool equals_later = false;  // an '=' further on the line: the next pair's name is before it
      for (size_t j = i + 1; j < t.size() && t[j].line == t[i].line; ++j) equals_later |= t[j].text == "=" && !t[j].quoted;
      // After a value on the same line, with no '=' to come: the value's words, joined. With
      // one to come (a pair may follow on the line), the stray words belong to the value or to
      // the next name: both are said.
      if (i >= 3 && t[i - 1].line == t[i].line && !equals_later)
        UMBRA_THROW(file, ":", t[i].line, ": the value of ", t[i - 3].text, " is followed by '", t[i].text,
                    "' on its line: a value holds no blanks; write ", t[i - 3].text, " = ", t[i - 1].text + joined(i),
                    " (or quote it)");
      if (i >= 3 && t[i - 1].line == t[i].line)
        UMBRA_THROW(file, ":", t[i].line, ": '", t[i].text, "' stands between ", t[i - 3].text, " = ", t[i - 1].text,
                    " and the next '=' on its line: a value or a name holds no blanks; join or quote the words of "
                    "the one it belongs to");
      if (equals_later)
        UMBRA_THROW(file, ":", t[i].line, ": the name '", t[i].text, "' is followed by '", t[i + 1].text,
                    "' before its '=': a name holds no blanks; write ", joined(i), " = ...");
      UMBRA_THROW(file, ":", t[i].line, ": expected '=' after '", t[i].text, "'");
    }
    // The value on the line of its '=': 'eta =' with nothing after it took the next line's key
    // as its value, and the error named that line and no key.
    UMBRA_CHECK(i + 2 < t.size() && !(t[i + 2].text == "=" && !t[i + 2].quoted) && t[i + 2].line == t[i + 1].line,
                file, ":", t[i + 1].line, ": expected a value after '", t[i].text, " =' on its line");
    entries.push_back(Entry{t[i].text, t[i + 2].text, file, t[i].line});
  }
  return entries;
}

std::vector<Entry> ParseConfigFile(const std::string& path) {
  CheckRegularFile(path, "config file");
  std::ifstream in(path);
  UMBRA_CHECK(in.good(), "cannot open config file '", path, "': ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace umbra::config
