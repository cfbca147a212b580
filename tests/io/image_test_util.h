// Image helpers for the OpenCV-dependent io tests: lossless PNGs with known RGB or gray pixels,
// and reading one pixel of a batch. Include only under UMBRA_USE_OPENCV. Images are encoded by
// umbra's own codecs plugin (src/io/imgcodecs.h), as umbra decodes them: the tests do not link
// opencv_imgcodecs, whose loading cost each test process 0.14 s.
#pragma once

#include <array>
#include <functional>
#include <opencv2/imgcodecs.hpp>  // the flags only

#include "src/io/imgcodecs.h"
#include "io_test_util.h"

namespace umbra::io::test {

using Rgb = std::array<int, 3>;

/// m as a PNG file at path.
inline void WriteImage(const std::string& path, const cv::Mat& m) {
  std::vector<uint8_t> png;
  ASSERT_TRUE(Codecs().encode(".png", m, png, {})) << path;
  WriteText(path, std::string(png.begin(), png.end()));
}

/// Writes an h x w PNG whose pixel (y, x) has the RGB value rgb(y, x) (stored BGR, as OpenCV does).
inline void WritePng(const std::string& path, int h, int w, const std::function<Rgb(int, int)>& rgb) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const Rgb c = rgb(y, x);
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(c[2]), uint8_t(c[1]), uint8_t(c[0]));
    }
  WriteImage(path, m);
}
inline void WriteGrayPng(const std::string& path, int h, int w, const std::function<int(int, int)>& v) {
  cv::Mat m(h, w, CV_8UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<uint8_t>(y, x) = uint8_t(v(y, x));
  WriteImage(path, m);
}

/// Writes an h x w JPEG (stored orientation) of pixels rgb(y, x) with an EXIF APP1 segment saying
/// `orientation` (1-8; 6: shown turned 90 degrees clockwise), as cameras write them.
inline void WriteJpegWithOrientation(const std::string& path, int h, int w, const std::function<Rgb(int, int)>& rgb,
                                     uint8_t orientation) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const Rgb c = rgb(y, x);
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(c[2]), uint8_t(c[1]), uint8_t(c[0]));
    }
  std::vector<uint8_t> jpg;
  ASSERT_TRUE(Codecs().encode(".jpg", m, jpg, {cv::IMWRITE_JPEG_QUALITY, 100}));
  // APP1: "Exif\0\0", a little-endian TIFF header, one IFD with one entry: tag 0x0112
  // (orientation), type SHORT, count 1, the value; no next IFD. 34 bytes with the length field.
  const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0, 8, 0, 0, 0, 1, 0,
                          0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0, 0, 0, 0, 0};
  jpg.insert(jpg.begin() + 2, std::begin(app1), std::end(app1));  // right after the SOI marker
  WriteText(path, std::string(jpg.begin(), jpg.end()));
}

/// data[n][c][y][x] of a batch.
inline float At(const DataBatch& b, index_t n, index_t c, index_t y, index_t x) {
  const Shape<4> s = b.data.shape_;
  return b.data.dptr_[((n * s[1] + c) * s[2] + y) * s[3] + x];
}

/// One image `name` in dir with label 0, as a list file dir/one.lst; returns the list path.
inline std::string OneImageList(const TempDir& dir, const std::string& name) {
  WriteText(dir / "one.lst", "0\t0\t" + name + "\n");
  return dir / "one.lst";
}

}  // namespace umbra::io::test
