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
/// the first line and demands it of the others. Errors (missing file, a bad number, a wrong field
/// count) are umbra::Error naming file:line.
std::vector<ImageListEntry> ReadImageList(const std::string& path, int label_width);

/// Where a list's `path` lies: under `root` (image_root, im2rec's ROOT) unless it is absolute
/// ("/data/a.png" became "root//data/a.png", cxxnet's join).
inline std::string ImagePath(const std::string& root, const std::string& path) {
  return root.empty() || path.starts_with('/') ? path : root + "/" + path;
}

/// The bytes of the image at `path`, described in errors as `what` (its path and list line): one
/// that cannot be opened, a folder, or an empty file is an umbra::Error.
std::string ReadImageFile(const std::string& path, const std::string& what);

}  // namespace umbra::io
