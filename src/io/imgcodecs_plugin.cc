// libumbra_imgcodecs.so (imgcodecs.h): the one library of umbra's that links opencv_imgcodecs
// and libjpeg, opened by Codecs() at the first image. It holds no state: decode and encode are
// OpenCV's own; decode_jpeg decodes JPEGs with libjpeg itself, as OpenCV does but keeping
// libjpeg's warnings, which OpenCV leaves to stderr (naming no file) while it returns an image of
// garbage; jpeg_problem reads a JPEG's scans for those warnings alone. What to decode, how to
// report a failure and the stderr capture are the caller's (decode_image.cc, im2rec.cc).
#include <csetjmp>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first

#include <jpeglib.h>
#include <jerror.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "imgcodecs.h"

namespace {

// libjpeg reports a fatal error through error_exit (which must not return: longjmp) and a
// warning through emit_message at level -1. The first warning of damaged data is kept; others
// (an unknown JFIF revision, an odd Adobe transform or progression) decode whole, as OpenCV
// takes them. Stray bytes before a marker (JWRN_EXTRANEOUS_DATA) are kept apart: real data sets
// hold them (ImageNet) after scans that decode whole, but a scan whose codes were damaged into
// valid ones also ends early and leaves its rest as such bytes, so they cannot be told apart.
struct Report {
  jpeg_error_mgr mgr;
  jmp_buf fatal;
  char first[JMSG_LENGTH_MAX];  // the first problem's text, or ""
  char stray[JMSG_LENGTH_MAX];  // the first stray-bytes warning's, or ""
};

void Keep(j_common_ptr c, char* into) {
  if (into[0] == '\0') c->err->format_message(c, into);
}
[[noreturn]] void OnFatal(j_common_ptr c) {
  auto* r = reinterpret_cast<Report*>(c->err);
  Keep(c, r->first);
  std::longjmp(r->fatal, 1);
}
void OnMessage(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace output
  auto* r = reinterpret_cast<Report*>(c->err);
  switch (c->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA: Keep(c, r->stray); break;
    case JWRN_HIT_MARKER:       // premature end of data segment
    case JWRN_HUFF_BAD_CODE:    // bad Huffman code
    case JWRN_ARITH_BAD_CODE:   // bad arithmetic code
    case JWRN_MUST_RESYNC:      // found marker 0x.. instead of RSTn
    case JWRN_JPEG_EOF:         // premature end of JPEG file
      Keep(c, r->first);
      break;
    default: break;
  }
}

// OpenCV's own bound on what it decodes (CV_IO_MAX_IMAGE_PIXELS, its default, and a side of at
// most 2^20): a header claiming 33000 x 33000 made it refuse at once, where libjpeg would
// allocate gigabytes a decoding thread and decode them. "" or why not.
std::string TooLarge(const jpeg_decompress_struct& d) {
  const uint64_t w = d.image_width, h = d.image_height;
  if (w > 0 && h > 0 && w <= (1u << 20) && h <= (1u << 20) && w * h <= (uint64_t(1) << 30)) return {};
  return "its header gives " + std::to_string(w) + " x " + std::to_string(h) +
         " pixels, over OpenCV's limit of 2^30 pixels (2^20 a side)";
}

void Start(jpeg_decompress_struct* d, Report* r, const std::string& bytes) {
  r->first[0] = r->stray[0] = '\0';
  d->err = jpeg_std_error(&r->mgr);
  r->mgr.error_exit = OnFatal;
  r->mgr.emit_message = OnMessage;
  jpeg_create_decompress(d);
  jpeg_mem_src(d, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
}

// Reads every scan to its DCT coefficients (the entropy decoding, where corrupt data shows; no
// inverse DCT, upsampling or colour conversion), then to the end of the image. About 0.8 of a
// whole decode's time on photos (bench_jpeg_decode: 0.71 against 0.90 ms, 500x375, quality 95).
std::string JpegProblem(const std::string& bytes, std::string* stray) {
  jpeg_decompress_struct d;
  Report r;
  Start(&d, &r, bytes);
  std::string large;
  std::string* const too = &large;  // assigned after setjmp: reached through a pointer set before
  if (setjmp(r.fatal) == 0) {  // no C++ object is made between here and a longjmp
    jpeg_read_header(&d, TRUE);
    *too = TooLarge(d);
    if (too->empty()) {
      jpeg_read_coefficients(&d);
      jpeg_finish_decompress(&d);
    }
  }
  jpeg_destroy_decompress(&d);
  *stray = r.stray;
  return large.empty() ? r.first : large;
}

// The EXIF orientation (1-8) of a JPEG, or 1, read as OpenCV 4.6 reads it: from the first APP1
// segment only (an XMP one first means none), "Exif\0\0" and a TIFF header (II or MM, 42), the
// first IFD's tag 0x0112 as a SHORT or a LONG. Fill bytes (FF FF) before a marker are skipped.
// Every read is bounded by the segment.
int ExifOrientation(const std::string& b) {
  const auto byte = [&](size_t i) { return uint8_t(b[i]); };
  for (size_t at = 2; at + 4 <= b.size() && byte(at) == 0xFF;) {
    while (at + 4 <= b.size() && byte(at + 1) == 0xFF) ++at;  // fill bytes
    if (at + 4 > b.size()) break;
    const uint8_t m = byte(at + 1);
    if (m == 0xDA || m == 0xD9) break;  // the scan: no more header segments
    const size_t len = size_t(byte(at + 2)) << 8 | byte(at + 3), seg = at + 4, end = at + 2 + len;
    if (len < 2 || end > b.size()) break;
    if (m != 0xE1) {
      at = end;
      continue;
    }
    if (len < 8 + 8 || b.compare(seg, 6, std::string("Exif\0\0", 6)) != 0) return 1;  // the first APP1 decides
    const size_t tiff = seg + 6;
    const bool le = b.compare(tiff, 2, "II") == 0;
    if (!le && b.compare(tiff, 2, "MM") != 0) return 1;
    const auto u16 = [&](size_t i) -> uint32_t {
      return le ? uint32_t(byte(i)) | uint32_t(byte(i + 1)) << 8 : uint32_t(byte(i)) << 8 | byte(i + 1);
    };
    const auto u32 = [&](size_t i) -> uint32_t { return le ? u16(i) | u16(i + 2) << 16 : u16(i) << 16 | u16(i + 2); };
    if (u16(tiff + 2) != 42) return 1;
    const size_t ifd = tiff + u32(tiff + 4);
    if (ifd + 2 > end || ifd < tiff) return 1;
    const size_t n = u16(ifd);
    for (size_t e = 0; e < n && ifd + 2 + 12 * (e + 1) <= end; ++e) {
      const size_t entry = ifd + 2 + 12 * e;
      if (u16(entry) != 0x0112) continue;
      const uint32_t type = u16(entry + 2);
      const uint32_t v = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;  // SHORT or LONG
      return v >= 1 && v <= 8 ? int(v) : 1;
    }
    return 1;
  }
  return 1;
}

// The stored image turned upright as OpenCV's imdecode turns it (its ExifTransform).
void Upright(cv::Mat& img, int orientation) {
  if (orientation >= 5) cv::transpose(img, img);
  switch (orientation) {
    case 2: case 6: cv::flip(img, img, 1); break;
    case 3: case 7: cv::flip(img, img, -1); break;
    case 4: case 8: cv::flip(img, img, 0); break;
    default: break;
  }
}

// cv::imdecode(bytes, IMREAD_COLOR or IMREAD_GRAYSCALE) of a JPEG, pixel for pixel (libjpeg's
// defaults are OpenCV's: slow integer DCT, fancy upsampling; colour as BGR), with libjpeg's
// warnings kept. An empty image, nothing decoded, where OpenCV converts itself (CMYK and YCCK
// sources) or for other flags: the caller decodes those with OpenCV.
cv::Mat DecodeJpeg(const std::string& bytes, int flags, std::string* problem, std::string* stray) {
  problem->clear(), stray->clear();
  if (flags != cv::IMREAD_COLOR && flags != cv::IMREAD_GRAYSCALE) return {};
  const bool gray = flags == cv::IMREAD_GRAYSCALE;
  // What the decoding changes lives in memory behind j, which setjmp's return does not reload
  // from registers (C leaves automatic variables changed after setjmp indeterminate there).
  struct Decoding {
    jpeg_decompress_struct d;
    Report r;
    cv::Mat out;
    bool declined = false;
    std::string large;  // TooLarge's answer, or why the pixels could not be allocated
  } decoding;
  Decoding* const j = &decoding;
  Start(&j->d, &j->r, bytes);
  if (setjmp(j->r.fatal) == 0) {  // no C++ object is made between here and a longjmp
    jpeg_read_header(&j->d, TRUE);
    j->large = TooLarge(j->d);
    if (!j->large.empty()) {
      // refused below, as OpenCV refuses it
    } else if (j->d.jpeg_color_space == JCS_CMYK || j->d.jpeg_color_space == JCS_YCCK) {
      j->declined = true;
    } else {
      j->d.out_color_space = gray ? JCS_GRAYSCALE : JCS_EXT_BGR;
      jpeg_start_decompress(&j->d);
      try {  // an exception must not leave the decoder undestroyed
        j->out.create(int(j->d.output_height), int(j->d.output_width), gray ? CV_8UC1 : CV_8UC3);
      } catch (const cv::Exception& e) {
        j->large = std::string("cannot allocate its pixels: ") + e.what();
      }
      while (j->large.empty() && j->d.output_scanline < j->d.output_height) {
        JSAMPROW row = j->out.ptr(int(j->d.output_scanline));
        jpeg_read_scanlines(&j->d, &row, 1);
      }
      if (j->large.empty()) jpeg_finish_decompress(&j->d);
    }
  } else {
    j->out.release();  // a fatal error: no image, as OpenCV returns none
  }
  jpeg_destroy_decompress(&j->d);
  *problem = j->r.first, *stray = j->r.stray;
  if (!j->large.empty()) {
    *problem = j->large;
    return {};
  }
  if (j->declined) return {};
  if (!j->out.empty()) Upright(j->out, ExifOrientation(bytes));
  if (j->out.empty() && problem->empty()) *problem = "libjpeg decoded nothing";
  return j->out;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const umbra::io::ImgCodecs* umbra_imgcodecs_v2() {
  static const umbra::io::ImgCodecs codecs{
      [](const cv::Mat& raw, int flags) { return cv::imdecode(raw, flags); },
      [](const std::string& ext, const cv::Mat& img, std::vector<uint8_t>& out, const std::vector<int>& params) {
        return cv::imencode(ext, img, out, params);
      },
      JpegProblem, DecodeJpeg};
  return &codecs;
}
