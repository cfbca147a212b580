// cxxnet's configuration syntax: a file is a sequence of `name = value` pairs; `#` starts a
// comment, values may be "quoted strings" or 'quoted strings' (with spaces; a backslash takes
// the next character as it is; '...' may run over lines), and `=` may touch its neighbours
// (`netconfig=start`). ParseConfig turns text into entries that remember file:line, so every
// later error can name where a key came from. The meaning of keys (iterator blocks, tasks) is
// the trainer's; the netconfig section becomes a NetSpec in netconfig.h.
#pragma once

#include <string>
#include <vector>

namespace umbra::config {

struct Entry {
  std::string key, value;
  std::string file;
  int line = 0;
  /// "file:line" for messages.
  std::string Where() const { return file + ":" + std::to_string(line); }
};

/// Parses config text; malformed input (a name without `= value`, an unterminated quote, a
/// missing name) is an umbra::Error naming file:line.
std::vector<Entry> ParseConfig(const std::string& text, const std::string& file);
/// Reads and parses a file; a missing file is an error naming it.
std::vector<Entry> ParseConfigFile(const std::string& path);

/// Whether a key opens an iterator block (data, eval or pred = ...): the trainer reads the
/// blocks, and the netconfig reader keeps their keys apart from the net's.
inline bool IsBlockRole(const std::string& k) { return k == "data" || k == "eval" || k == "pred"; }

}  // namespace umbra::config
