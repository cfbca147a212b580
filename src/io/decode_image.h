// cv::imdecode without OpenCV's own lines on stderr. On a file it cannot read, OpenCV 4 prints
// "imdecode_(''): can't read data: ..." to std::cerr itself and returns an empty image (PNM, BMP,
// PFM, HDR and EXR cut short, for example), so umbra's one error line came after a line of
// OpenCV's. Here what OpenCV writes to std::cerr on the decoding thread is captured and handed
// back, for the caller's error to quote; other threads' std::cerr output passes through as before.
// Used by the img/imgrec iterators and by im2rec's resize. JpegWords: corrupt JPEG scans.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace umbra::io {

/// What libjpeg says of a JPEG (DecodeImage, JpegDataProblem). problem: its first complaint
/// ("Corrupt JPEG data: bad Huffman code"), where OpenCV decodes an image of garbage with the
/// warning on stderr naming no file, or one it cannot decode at all. stray: a stray-bytes
/// warning ("Corrupt JPEG data: 3 extraneous bytes before marker 0xd9"), no problem: whole scans
/// in real data sets are followed by such bytes, and so are damaged ones that ended early.
struct JpegWords {
  std::string problem, stray;
};

/// cv::imdecode(bytes, flags); *opencv_said receives what OpenCV printed meanwhile (its lines
/// joined by "; ", trimmed; "" when it printed nothing). Exceptions pass through as imdecode's.
/// With `jpeg` given and JPEG bytes, libjpeg's words go there: with IMREAD_COLOR or
/// IMREAD_GRAYSCALE it decodes them itself, pixel for pixel as OpenCV (ImgCodecs::decode_jpeg),
/// at no extra cost; otherwise its scans are read once more (JpegDataProblem's cost).
cv::Mat DecodeImage(const std::string& bytes, int flags, std::string* opencv_said, JpegWords* jpeg = nullptr);

/// An OpenCV exception in words for an error line: the check that failed and where, not its
/// whole text ("OpenCV(4.6.0) ./modules/imgcodecs/src/loadsave.cpp:77: error: (-215:Assertion
/// failed) ..."), which named OpenCV's source file and version.
inline std::string OpenCvWords(const cv::Exception& e) {
  if (e.err.empty()) return e.what();
  return "OpenCV refused it (" + e.err + (e.func.empty() ? "" : " in " + e.func) + ")";
}

/// Puts the capture under std::cerr (once a process; DecodeImage does it too). Called where one
/// thread runs (the image iterators' Init; im2rec decodes on its one thread): swapped by the
/// first decoding thread, the buffer changed under the main thread's writes to std::cerr (a data
/// race).
void InstallDecodeCapture();

/// libjpeg's words on a JPEG's scan data (empty for bytes of another format), read as far as the
/// DCT coefficients: about 0.8 of a whole decode's time (bench_jpeg_decode). For im2rec, which
/// packs each image once.
JpegWords JpegDataProblem(const std::string& bytes);

/// The note for JpegWords::stray: "note: WHO: libjpeg: STRAY (what it may mean)" on stderr.
void NoteStrayBytes(const std::string& who, const std::string& stray);

}  // namespace umbra::io
