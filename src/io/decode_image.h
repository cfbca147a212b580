// cv::imdecode without OpenCV's own lines on stderr. On a file it cannot read, OpenCV 4 prints
// "imdecode_(''): can't read data: ..." to std::cerr itself and returns an empty image (PNM, BMP,
// PFM, HDR and EXR cut short, for example), so umbra's one error line came after a line of
// OpenCV's. Here what OpenCV writes to std::cerr on the decoding thread is captured and handed
// back, for the caller's error to quote; other threads' std::cerr output passes through as before.
// Used by the img/imgrec iterators and by im2rec's resize.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace umbra::io {

/// cv::imdecode(bytes, flags); *opencv_said receives what OpenCV printed meanwhile (its lines
/// joined by "; ", trimmed; "" when it printed nothing). Exceptions pass through as imdecode's.
cv::Mat DecodeImage(const std::string& bytes, int flags, std::string* opencv_said);

}  // namespace umbra::io
