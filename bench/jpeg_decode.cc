// JPEG decoding as the img/imgrec iterators do it (DecodeImage with libjpeg's words kept: the
// codecs plugin's own libjpeg decode, src/io/imgcodecs.h) beside OpenCV's cv::imdecode (the
// peer, and what the iterators called before), and the scans alone as im2rec reads them
// (JpegDataProblem). Synthetic 500x375 photos (ImageNet's usual size: smooth colour plus noise)
// encoded at quality 95, colour and grey decodes; milliseconds an image, medians of --reps runs
// over the set, and the ratio. One thread: the iterators decode on several, each image alike.
//   bench_jpeg_decode [--images 200] [--reps 7]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>  // the flags only: the codecs are the plugin's

#include "src/io/decode_image.h"
#include "src/io/imgcodecs.h"

using namespace umbra::io;

namespace {

std::vector<std::string> Photos(int n) {
  std::vector<std::string> out;
  uint32_t lcg = 1;
  const auto next = [&] { return (lcg = lcg * 1664525u + 1013904223u) >> 8; };
  for (int i = 0; i < n; ++i) {
    cv::Mat m(375, 500, CV_8UC3);
    const double a = 0.01 + 0.04 * (next() % 1000) / 1000.0, b = 0.01 + 0.04 * (next() % 1000) / 1000.0;
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x)
        for (int c = 0; c < 3; ++c) {
          const double v = 127 + 100 * std::sin(a * x + c) * std::cos(b * y + 2 * c) + double(next() % 25) - 12;
          m.at<cv::Vec3b>(y, x)[c] = uint8_t(std::clamp(v, 0.0, 255.0));
        }
    std::vector<uint8_t> jpg;
    if (!Codecs().encode(".jpg", m, jpg, {cv::IMWRITE_JPEG_QUALITY, 95})) std::abort();
    out.emplace_back(jpg.begin(), jpg.end());
  }
  return out;
}

template <typename F>
double MsPerImage(const std::vector<std::string>& set, int reps, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const std::string& s : set) f(s);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / set.size());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int images = 200, reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--images")) images = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  const std::vector<std::string> set = Photos(std::max(1, images));
  std::printf("| decode (500x375, quality 95) | umbra ms/image | OpenCV imdecode ms/image | OpenCV / umbra |\n"
              "|---|---|---|---|\n");
  for (const int flags : {cv::IMREAD_COLOR, cv::IMREAD_GRAYSCALE}) {
    size_t bad = 0;
    const double ours = MsPerImage(set, reps, [&](const std::string& s) {
      std::string said;
      JpegWords w;
      bad += DecodeImage(s, flags, &said, &w).empty() || !w.problem.empty();
    });
    const double theirs = MsPerImage(set, reps, [&](const std::string& s) {
      const cv::Mat raw(1, int(s.size()), CV_8U, const_cast<char*>(s.data()));
      bad += Codecs().decode(raw, flags).empty();
    });
    std::printf("| %s | %.3f | %.3f | %.2f |\n", flags == cv::IMREAD_COLOR ? "colour" : "grey", ours, theirs,
                theirs / ours);
    if (bad) std::printf("(%zu decodes failed)\n", bad);
  }
  const double scans = MsPerImage(set, reps, [&](const std::string& s) {
    if (!JpegDataProblem(s).problem.empty()) std::abort();
  });
  std::printf("\nThe scans alone (im2rec's check, DCT coefficients only): %.3f ms/image\n", scans);
  return 0;
}
