// cxxnet's image list files, read by the `img` and `imgrec` iterators and by im2rec. One instance a
// line: `index <TAB> label_1 ... label_k <TAB> relative/path` (fields split at tabs; a line without
// tabs is split at whitespace). Blank lines are skipped. Also reads one listed image's bytes
// (ReadImageFile); decoding them is OpenCV's, in the iterators.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace umbra::io {

struct ImageListEntry {
  uint64_t index = 0;
  std::vector<float> labels;
  std::string path;
  int line = 0;  // 1-based line in the list file, for error messages
};

/// Reads a list file. label_width > 0 demands exactly that many labels a line; 0 takes the width of
/// the first line and demands it of the others. `path_optional` (and label_width > 0): a line of
/// the index and its labels only is taken too, with an empty path (cxxnet's imgrec read a list
/// for its labels alone, the path unread: "index <TAB> label" relabels records). Errors (missing
/// file, a bad number, a wrong field count) are umbra::Error naming file:line.
std::vector<ImageListEntry> ReadImageList(const std::string& path, int label_width, bool path_optional = false);

/// Whether `root` (image_root, im2rec's ROOT) is a prefix written before each path rather than a
/// folder: one that names no folder and does not end in '/' (cxxnet joined the two as they are,
/// so "data/img_" put "a.png" at "data/img_a.png").
bool RootIsPrefix(const std::string& root);

/// Where a list's `path` lies: under `root` unless it is absolute ("/data/a.png" became
/// "root//data/a.png", cxxnet's join); after a prefix root (RootIsPrefix), after it as it is.
inline std::string ImagePath(const std::string& root, const std::string& path, bool prefix = false) {
  if (root.empty() || path.starts_with('/')) return path;
  return prefix || root.ends_with('/') ? root + path : root + "/" + path;
}

/// The bytes of the image at `path`, described in errors as `what` (its path and list line): one
/// that cannot be opened, a folder, or an empty file is an umbra::Error.
std::string ReadImageFile(const std::string& path, const std::string& what);

}  // namespace umbra::io
