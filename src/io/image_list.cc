// Parsing of cxxnet image list files (image_list.h).
#include "image_list.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>

#include "umbra/logging.h"
#include "umbra/parse.h"
#include "umbra/regular_file.h"
#include "umbra/tensor/memory.h"

namespace umbra::io {
namespace {

std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> out;
  const bool tabs = line.find('\t') != std::string::npos;
  size_t b = 0;
  while (b <= line.size()) {
    size_t e = tabs ? line.find('\t', b) : line.find_first_of(" \t", b);
    if (e == std::string::npos) e = line.size();
    std::string f = line.substr(b, e - b);
    // Trim surrounding blanks of a tab-separated field; paths keep inner spaces.
    const size_t s = f.find_first_not_of(" \r"), t = f.find_last_not_of(" \r");
    f = s == std::string::npos ? "" : f.substr(s, t - s + 1);
    if (!f.empty() || tabs) out.push_back(f);
    b = e + 1;
  }
  while (!out.empty() && out.back().empty()) out.pop_back();  // a trailing tab
  return out;
}

}  // namespace

std::vector<ImageListEntry> ReadImageList(const std::string& path, int label_width, bool path_optional) {
  CheckRegularFile(path, "image list");
  std::ifstream in(path);
  UMBRA_CHECK(in.good(), "cannot open image list '", path, "'");
  std::vector<ImageListEntry> list;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    // A UTF-8 byte-order mark (Windows editors) is no part of the first index; a NUL cut a path
    // short ("0.pgm<NUL>junk" packed 0.pgm).
    if (no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    const std::string where = path + ":" + std::to_string(no);
    UMBRA_CHECK(line.find('\0') == std::string::npos, where, ": a NUL byte (a list is text; is this a binary file?)");
    // Lines that end in a lone CR (classic Mac OS) are one line here: said so, as the csv reader
    // says it (the error quoted "0.pgm\r1", whose CR garbled the terminal's line).
    const std::string cr = CarriageReturnProblem(line);
    UMBRA_CHECK(cr.empty(), where, ": ", cr);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> f = Split(line);
    // Without a path (a list that relabels records): the index and label_width labels.
    const bool no_path = path_optional && label_width > 0 && int(f.size()) == 1 + label_width &&
                         ParseReal(f.back()).has_value();  // "5 1 x" is one label and a path
    UMBRA_CHECK(f.size() >= 3 || no_path, where, ": expected 'index <TAB> label(s) <TAB> path'",
                path_optional ? " or 'index <TAB> label(s)' (label_width = " + std::to_string(label_width) + ")" : "",
                ", got ", f.size(), " field(s)");
    const int k = int(f.size()) - (no_path ? 1 : 2);
    if (label_width <= 0) label_width = k;
    UMBRA_CHECK(k == label_width, where, ": ", k, " label(s), expected label_width = ", label_width);
    ImageListEntry e;
    e.line = no;
    const auto index = ParseInteger(f[0], 0);
    UMBRA_CHECK(index, where, ": index '", f[0], "' is ", IndexProblem(f[0]));
    e.index = uint64_t(*index);
    for (int i = 0; i < k; ++i) {
      const std::string& s = f[1 + i];
      const auto label = ParseReal(s);
      UMBRA_CHECK(label, where, ": label ", i + 1, " '", s, "' is not a number");
      // As the config's numbers and the indices here: 0x1 read as 1, 0x1p3 as 8.
      UMBRA_CHECK(!SpellsHex(s), where, ": label ", i + 1, " '", s, "': hexadecimal is not read; write it in decimal");
      UMBRA_CHECK(std::isfinite(float(*label)), where, ": label ", i + 1, " '", s, "' is not a finite float");
      UMBRA_CHECK(float(*label) != 0.f || !SpellsNonzero(s), where, ": label ", i + 1, " '", s,
                  "' is below what a float holds (it would be 0)");
      e.labels.push_back(float(*label));
    }
    if (no_path) {
      list.push_back(std::move(e));
      continue;
    }
    e.path = f.back();
    UMBRA_CHECK(!e.path.empty(), where, ": empty image path");
    list.push_back(std::move(e));
  }
  UMBRA_CHECK(!list.empty(), "image list '", path, "' holds no instances");
  return list;
}

bool RootIsPrefix(const std::string& root) {
  std::error_code ec;
  return !root.empty() && !root.ends_with('/') && !std::filesystem::is_directory(root, ec);
}

std::string ReadImageFile(const std::string& path, const std::string& what) {
  const std::string why = NotRegularFile(path);
  UMBRA_CHECK(why.empty(), "cannot open image ", what, ": ", why);
  std::ifstream in(path, std::ios::binary);
  UMBRA_CHECK(in.good(), "cannot open image ", what);
  // Its size against the machine's memory first: an 8 GiB file was read whole, then ended in
  // "std::bad_alloc", naming no image.
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  try {
    if (!ec) umbra::detail::CheckHostRoom(size_t(size));
  } catch (const Error& err) {
    UMBRA_THROW("cannot read image ", what, " (", size, " bytes): ", err.message());
  }
  std::string bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  } catch (const std::bad_alloc&) {
    UMBRA_THROW("cannot read image ", what, ": out of memory reading its ", ec ? 0 : size, " bytes");
  }
  UMBRA_CHECK(!bytes.empty(), "image ", what, " is empty");
  return bytes;
}

}  // namespace umbra::io
