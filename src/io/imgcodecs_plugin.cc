// libumbra_imgcodecs.so (imgcodecs.h): the one library of umbra's that links opencv_imgcodecs,
// opened by Codecs() at the first image. It holds no state and no umbra code: the functions are
// OpenCV's own, and what to decode, how to report a failure and the stderr capture are the
// caller's (decode_image.cc, im2rec.cc).
#include <opencv2/imgcodecs.hpp>

#include "imgcodecs.h"

extern "C" __attribute__((visibility("default"))) const umbra::io::ImgCodecs* umbra_imgcodecs_v1() {
  static const umbra::io::ImgCodecs codecs{
      [](const cv::Mat& raw, int flags) { return cv::imdecode(raw, flags); },
      [](const std::string& ext, const cv::Mat& img, std::vector<uint8_t>& out, const std::vector<int>& params) {
        return cv::imencode(ext, img, out, params);
      }};
  return &codecs;
}
