// DecodeImage (decode_image.h): std::cerr is given, once, a stream buffer that forwards to the
// one it had, except on a thread that is inside DecodeImage, where the characters are kept.
// The buffer has no put area, so every write reaches overflow/xsputn at once and the filter holds
// no state shared between threads; the buffer it forwards to is the stdio-synchronised one,
// which is safe to write from several threads.
#include "decode_image.h"

#include <cstdio>
#include <iostream>
#include <mutex>

#include "imgcodecs.h"

namespace umbra::io {
namespace {

thread_local std::string* t_capture = nullptr;  // where this thread's std::cerr output goes, or null

class PerThreadCapture : public std::streambuf {
 public:
  explicit PerThreadCapture(std::streambuf* to) : to_(to) {}

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    if (t_capture) {
      t_capture->push_back(char(c));
      return c;
    }
    return to_->sputc(char(c));
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (t_capture) {
      t_capture->append(s, size_t(n));
      return n;
    }
    return to_->sputn(s, n);
  }
  int sync() override { return t_capture ? 0 : to_->pubsync(); }

 private:
  std::streambuf* to_;
};

}  // namespace

void InstallDecodeCapture() {
  static std::once_flag once;
  // Never deleted: std::cerr outlives every static destructor and may be written to in them.
  std::call_once(once, [] { std::cerr.rdbuf(new PerThreadCapture(std::cerr.rdbuf())); });
}

namespace {

// "line one\n\nline two \n" -> "line one; line two", without the "imdecode_('/tmp/...'): "
// OpenCV puts first (the name of a temporary file of its own, or '').
std::string Joined(const std::string& text) {
  std::string out, line;
  const auto flush = [&] {
    if (line.rfind("imdecode_(", 0) == 0 && line.find("): ") != std::string::npos)
      line.erase(0, line.find("): ") + 3);
    const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    if (b != std::string::npos) out += (out.empty() ? "" : "; ") + line.substr(b, e - b + 1);
    line.clear();
  };
  for (char c : text) c == '\n' ? flush() : line.push_back(c);
  flush();
  return out;
}

bool IsJpeg(const std::string& bytes) { return bytes.size() >= 3 && bytes.compare(0, 3, "\xFF\xD8\xFF") == 0; }

}  // namespace

cv::Mat DecodeImage(const std::string& bytes, int flags, std::string* opencv_said, JpegWords* jpeg) {
  InstallDecodeCapture();
  const ImgCodecs& codecs = Codecs();  // opened outside the capture: its libraries' lines are not OpenCV's answer
  if (jpeg) {
    *jpeg = {};
    if (IsJpeg(bytes)) {
      opencv_said->clear();
      cv::Mat img = codecs.decode_jpeg(bytes, flags, &jpeg->problem, &jpeg->stray);
      if (!img.empty() || !jpeg->problem.empty()) return img;
      jpeg->problem = codecs.jpeg_problem(bytes, &jpeg->stray);  // declined: OpenCV decodes it below
    }
  }
  std::string said;
  struct Restore {
    ~Restore() { t_capture = nullptr; }
  } restore;
  t_capture = &said;
  const cv::Mat raw(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat img = codecs.decode(raw, flags);
  *opencv_said = Joined(said);
  return img;
}

JpegWords JpegDataProblem(const std::string& bytes) {
  JpegWords w;
  if (IsJpeg(bytes)) w.problem = Codecs().jpeg_problem(bytes, &w.stray);
  return w;
}

void NoteStrayBytes(const std::string& who, const std::string& stray) {
  std::fprintf(stderr, "note: %s: libjpeg: %s (bytes after the scan data, as some cameras write; or the scan is "
               "damaged, and the image with it)\n", who.c_str(), stray.c_str());
}

}  // namespace umbra::io
