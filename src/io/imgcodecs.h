// OpenCV's image codecs (imdecode, imencode), opened at the first image decoded or encoded
// rather than when a program starts. On Debian, libopencv_imgcodecs brings GDAL and over a
// hundred libraries with it, whose start-up code took 0.14 s of every process's start on this
// project's machines (an empty program linked to it: 0.14 s; to opencv_core or opencv_imgproc:
// 0.01-0.02 s): `umbra --version`, every training run on idx or csv data and every test process
// paid it without reading an image. The codecs live in a plugin, libumbra_imgcodecs.so (built
// from imgcodecs_plugin.cc beside the other libraries umbra builds), which links them; the rest
// of umbra links only opencv_core and opencv_imgproc, and cv::Mat crosses the boundary as it is
// (both sides use the one libopencv_core of the process).
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace umbra::io {

/// The plugin's functions: cv::imdecode and cv::imencode themselves (their exceptions pass
/// through), and jpeg_problem: libjpeg's first complaint about a JPEG's data ("" when none),
/// found by reading its scans as far as their DCT coefficients. OpenCV decodes over corrupt scan
/// data (libjpeg's warnings go to stderr, naming no file) and returns an image of garbage. Stray
/// bytes before a marker are no complaint but go to *stray (libjpeg's text, or ""): real data
/// sets hold them after whole scans, and a damaged scan can leave its rest as such bytes.
struct ImgCodecs {
  cv::Mat (*decode)(const cv::Mat& raw, int flags);
  bool (*encode)(const std::string& ext, const cv::Mat& img, std::vector<uint8_t>& out,
                 const std::vector<int>& params);
  std::string (*jpeg_problem)(const std::string& bytes, std::string* stray);
  /// cv::imdecode of a JPEG with IMREAD_COLOR or IMREAD_GRAYSCALE, pixel for pixel and turned by
  /// its EXIF orientation as OpenCV turns it, decoded by libjpeg itself so that its warnings are
  /// kept (*problem, *stray as jpeg_problem's; *problem also when nothing could be decoded, with
  /// an empty image) at no extra cost. An empty image and no problem: declined (other flags,
  /// CMYK or YCCK sources, which OpenCV converts itself): decode with `decode`.
  cv::Mat (*decode_jpeg)(const std::string& bytes, int flags, std::string* problem, std::string* stray);
};

/// The plugin, opened at the first call (thread-safe) and never closed. Throws umbra::Error
/// naming the plugin and the loader's reason when it cannot be opened.
const ImgCodecs& Codecs();

}  // namespace umbra::io

/// The plugin's one entry point (the name Codecs() looks up); a change to ImgCodecs renames it
/// (_v2), so that a plugin of another umbra found first is passed over, not called.
extern "C" const umbra::io::ImgCodecs* umbra_imgcodecs_v2();
