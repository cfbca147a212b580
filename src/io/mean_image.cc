// Mean image file reading and writing (format in include/umbra/io/mean_image.h).
#include "umbra/io/mean_image.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "umbra/atomic_output.h"
#include "umbra/regular_file.h"

namespace umbra::io {
namespace {
constexpr char kMagic[8] = {'U', 'M', 'B', 'R', 'A', 'M', 'E', 'A'};
constexpr uint32_t kVersion = 1;
}  // namespace

bool IsMeanImageFile(const std::string& path) { return RegularFileStartsWith(path, std::string_view(kMagic, 8)); }

void WriteMeanImage(const std::string& path, const MeanImage& m) {
  UMBRA_CHECK(size_t(m.shape.Size()) == m.values.size(), "mean image for '", path, "': shape and values disagree");
  // cxxnet's configs keep the mean image in the model folder (image_mean = models/...), which
  // a first run has not made yet when the iterators compute the mean: the folder is made here.
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    UMBRA_CHECK(!ec, "cannot make the folder '", parent.string(), "' of mean image '", path, "': ", ec.message());
  }
  AtomicOutput file(path, /*binary=*/true, "mean image");
  const uint32_t head[4] = {kVersion, uint32_t(m.shape[0]), uint32_t(m.shape[1]), uint32_t(m.shape[2])};
  file.out().write(kMagic, 8);
  file.out().write(reinterpret_cast<const char*>(head), sizeof(head));
  file.out().write(reinterpret_cast<const char*>(m.values.data()), std::streamsize(m.values.size() * sizeof(float)));
  file.Commit();
}

MeanImage ReadMeanImage(const std::string& path) {
  CheckRegularFile(path, "mean image");
  std::ifstream in(path, std::ios::binary);
  UMBRA_CHECK(in.good(), "cannot open mean image '", path, "'");
  char magic[8] = {};
  uint32_t head[4] = {};
  in.read(magic, 8);
  const std::streamsize got = in.gcount();
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  const std::streamsize head_got = in.gcount();
  // Its magic whole and right, cut in the header or before: "truncated", not "bad magic" (an
  // empty file, a copy cut short).
  UMBRA_CHECK(got > 0, "mean image '", path, "' is empty; delete it to recompute");
  const bool prefix = std::memcmp(magic, kMagic, size_t(got)) == 0;
  UMBRA_CHECK(got == 8 || !prefix, "mean image '", path, "' is truncated (", got, " bytes); delete it to recompute");
  UMBRA_CHECK(prefix, "'", path,
              "' is not an umbra mean image (bad magic; cxxnet mean files are not read: delete it to recompute)");
  UMBRA_CHECK(head_got == std::streamsize(sizeof(head)), "mean image '", path, "' is truncated (", 8 + head_got,
              " bytes, inside its 24-byte header); delete it to recompute");
  UMBRA_CHECK(head[0] == kVersion, "mean image '", path, "' has version ", head[0], ", this umbra reads ", kVersion);
  // The header's shape against the file's size before anything is allocated: a corrupt header
  // must not ask for gigabytes on its way to "truncated". In double, c*h*w cannot wrap, and it
  // equals a file size (< 2^53) only where it is exact.
  in.seekg(0, std::ios::end);
  const double bytes = double(std::streamoff(in.tellg()));
  const double want = 24 + 4.0 * head[1] * head[2] * head[3];
  UMBRA_CHECK(head[1] > 0 && head[2] > 0 && head[3] > 0 && bytes == want, "mean image '", path, "' is ",
              bytes < want ? "truncated or corrupt" : "corrupt", ": ", int64_t(bytes),
              " bytes, where its header's shape ", head[1], ",", head[2], ",", head[3], " takes 24 + 4*c*h*w");
  in.seekg(24);
  MeanImage m;
  m.shape = Shape3(head[1], head[2], head[3]);
  m.values.resize(m.shape.Size());
  in.read(reinterpret_cast<char*>(m.values.data()), std::streamsize(m.values.size() * sizeof(float)));
  UMBRA_CHECK(in.gcount() == std::streamsize(m.values.size() * sizeof(float)), "mean image '", path,
              "' could not be read whole (shape ", head[1], ",", head[2], ",", head[3], ")");
  const auto bad = std::ranges::find_if(m.values, [](float v) { return !std::isfinite(v); });
  const size_t at = size_t(bad - m.values.begin()), plane = size_t(head[2]) * head[3];
  UMBRA_CHECK(bad == m.values.end(), "mean image '", path, "' holds ", *bad, " at channel ", at / plane, ", y ",
              at % plane / head[3], ", x ", at % head[3], "; delete it to recompute");
  return m;
}

}  // namespace umbra::io
