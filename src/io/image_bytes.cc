// The structure walks of umbra/io/image_bytes.h.
//
// PNG (the PNG specification): an 8-byte signature, then chunks of a 4-byte big-endian length, a
// 4-byte type, the data and a CRC-32 of type + data, up to IEND.
//
// JPEG (ITU T.81, Annex B): SOI (FF D8), then markers; all but SOI, EOI, RST0-7 and TEM carry a
// 2-byte big-endian length that counts itself. Each SOS segment is followed by entropy-coded data
// in which FF 00 is a data byte and FF D0-D7 a restart, so the scan runs to the next other marker.
// Only truncation is refused: stray bytes between segments, which libjpeg skips with a warning
// and which real data sets hold (ImageNet has such files), pass, as do bytes after EOI. A file
// without EOI is refused even where its scans happen to be whole (libjpeg warns and decodes it):
// without decoding, that cannot be told from one cut short, which OpenCV fills with grey.
#include "umbra/io/image_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "umbra/parse.h"
#include "umbra/regular_file.h"

namespace umbra::io {
namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";

uint8_t Byte(const std::string& b, size_t at) { return uint8_t(b[at]); }

uint32_t BigEndian32(const std::string& b, size_t at) {
  return uint32_t(Byte(b, at)) << 24 | uint32_t(Byte(b, at + 1)) << 16 | uint32_t(Byte(b, at + 2)) << 8 |
         uint32_t(Byte(b, at + 3));
}

// What is wrong with a PNG's IHDR chunk (its 13 data bytes at `at`), or "": libpng printed its own
// lines on stderr for these ("libpng error: Invalid IHDR data") before umbra's error, which gave
// only the byte count, and OpenCV's assertion text reached the error line for a header claiming
// more pixels than it decodes.
std::string IhdrProblem(const std::string& b, size_t at) {
  const uint32_t w = BigEndian32(b, at), h = BigEndian32(b, at + 4);
  const int depth = Byte(b, at + 8), colour = Byte(b, at + 9);
  const std::string size = std::to_string(w) + "x" + std::to_string(h);
  if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu) return "its IHDR chunk gives a size of " + size;
  // libpng's default limits (1,000,000 columns or rows) and OpenCV's default CV_IO_MAX_IMAGE_PIXELS.
  if (w > 1000000 || h > 1000000) return "its IHDR chunk gives " + size + ", wider or taller than libpng reads (10^6)";
  if (uint64_t(w) * h > (uint64_t(1) << 30))
    return "its IHDR chunk gives " + size + ", more pixels than OpenCV decodes (2^30)";
  // The bit depths the PNG standard allows for each colour type.
  const bool fits = colour == 0   ? depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16
                    : colour == 3 ? depth == 1 || depth == 2 || depth == 4 || depth == 8
                    : colour == 2 || colour == 4 || colour == 6 ? depth == 8 || depth == 16
                                                                : false;
  if (!fits)
    return "its IHDR chunk gives colour type " + std::to_string(colour) + " with bit depth " + std::to_string(depth) +
           ", which PNG does not define";
  if (Byte(b, at + 10) != 0 || Byte(b, at + 11) != 0 || Byte(b, at + 12) > 1)
    return "its IHDR chunk gives a compression, filter or interlace method PNG does not define";
  return {};
}

// The pixel data of a PNG (its IDAT chunks' zlib stream), inflated as it is met to count its
// rows: each a filter byte (0-4) and the row's bytes, the rows of the seven Adam7 passes one
// after another where the image is interlaced. libpng met a short stream, a corrupt one or an
// undefined filter while decoding and printed "libpng error: Not enough image data" (naming no
// file) before umbra's error, which gave only the byte count.
class PngRows {
 public:
  PngRows(uint32_t w, uint32_t h, int depth, int colour, bool interlaced) {
    const int channels = colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 1;
    const auto row_bytes = [&](uint64_t width) { return (width * uint64_t(channels) * uint64_t(depth) + 7) / 8; };
    if (!interlaced) {
      passes_.push_back({h, row_bytes(w)});
    } else {
      // Adam7: each pass's first column and row, and its steps.
      const int x0[] = {0, 4, 0, 2, 0, 1, 0}, y0[] = {0, 0, 4, 0, 2, 0, 1}, dx[] = {8, 8, 4, 4, 2, 2, 1},
                dy[] = {8, 8, 8, 4, 4, 2, 2};
      for (int p = 0; p < 7; ++p) {
        const uint64_t cols = w > uint32_t(x0[p]) ? (w - x0[p] + dx[p] - 1) / dx[p] : 0;
        const uint64_t rows = h > uint32_t(y0[p]) ? (h - y0[p] + dy[p] - 1) / dy[p] : 0;
        if (cols > 0 && rows > 0) passes_.push_back({rows, row_bytes(cols)}), adam7_.push_back(p + 1);
      }
    }
    for (const auto& [rows, bytes] : passes_) need_ += rows * (1 + bytes);
    ready_ = inflateInit(&z_) == Z_OK;
  }
  ~PngRows() {
    if (ready_) inflateEnd(&z_);
  }
  PngRows(const PngRows&) = delete;
  PngRows& operator=(const PngRows&) = delete;

  /// Feeds one IDAT chunk's data; "" or what is wrong.
  std::string Feed(const char* data, size_t n) {
    if (!ready_) return "zlib could not start (out of memory?) to read its pixel data";
    if (ended_) return {};  // data after the stream's end: libpng warns and decodes
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z_.avail_in = uInt(n);
    while (z_.avail_in > 0 && !ended_) {
      unsigned char out[16384];
      z_.next_out = out;
      z_.avail_out = sizeof out;
      const int r = inflate(&z_, Z_NO_FLUSH);
      if (r != Z_OK && r != Z_STREAM_END && !(r == Z_BUF_ERROR && z_.avail_out > 0))
        return std::string("its pixel data (the IDAT chunks' zlib stream) is corrupt: ") + (z_.msg ? z_.msg : "zlib error");
      if (std::string p = Rows(out, sizeof out - z_.avail_out); !p.empty()) return p;
      ended_ = r == Z_STREAM_END;
    }
    return {};
  }
  /// At IEND: "" or what is wrong.
  std::string End() const {
    if (got_ < need_)
      return "its pixel data holds " + std::to_string(got_) + " bytes of rows, fewer than its image needs (" +
             std::to_string(need_) + ")" + (ended_ ? "" : ": its zlib stream is cut short");
    // Rows whole but the stream unended (its checksum missing): libpng refuses it too.
    if (!ended_) return "its pixel data's zlib stream is cut short (the rows are whole, its end is missing)";
    return {};
  }

 private:
  // Walks the rows' bytes: each row's first is its filter type.
  std::string Rows(const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n;) {
      if (got_ >= need_) return {};  // more than the image: libpng warns ("Too much image data") and decodes
      if (in_row_ == 0) {
        if (p[i] > 4)
          return "row " + std::to_string(row_) +
                 (adam7_.empty() ? std::string() : " of Adam7 pass " + std::to_string(adam7_[pass_])) +
                 " of its pixel data has filter type " + std::to_string(p[i]) + ", which PNG does not define (0-4)";
        in_row_ = 1 + passes_[pass_].second;
      }
      const size_t take = std::min<uint64_t>(n - i, std::min<uint64_t>(in_row_, need_ - got_));
      i += take, got_ += take, in_row_ -= take;
      if (in_row_ == 0 && ++row_ == passes_[pass_].first && pass_ + 1 < passes_.size()) ++pass_, row_ = 0;
    }
    return {};
  }
  std::vector<std::pair<uint64_t, uint64_t>> passes_;  // (rows, bytes a row) of each pass
  std::vector<int> adam7_;                             // interlaced: each pass's number, 1-7
  uint64_t need_ = 0, got_ = 0, in_row_ = 0, row_ = 0;
  size_t pass_ = 0;
  bool ended_ = false, ready_ = false;
  z_stream z_{};
};

std::string PrunePng(const std::string& bytes, std::string* pruned, bool deep) {
  std::string kept;  // the bytes without iCCP, copied only once one is met
  bool dropped = false;
  std::unique_ptr<PngRows> rows;  // deep: the pixel data's rows, counted
  bool palette = false, plte = false;
  for (size_t at = 8;;) {
    if (at + 8 > bytes.size()) return "it ends after " + std::to_string(bytes.size()) + " bytes, before its IEND chunk";
    const uint32_t length = BigEndian32(bytes, at);
    const std::string type = bytes.substr(at + 4, 4);
    const size_t end = at + 12 + size_t(length);  // length, type, data, CRC
    if (length > 0x7fffffffu || end > bytes.size())
      return "it ends inside its " + type + " chunk (which needs byte " + std::to_string(end) + " of " +
             std::to_string(bytes.size()) + ")";
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(bytes.data() + at + 4), uInt(4 + length));
    if (crc != BigEndian32(bytes, end - 4))
      return "its " + type + " chunk at byte " + std::to_string(at) + " is corrupt (CRC)";
    if (at == 8) {  // the standard's first chunk
      if (type != "IHDR" || length != 13) return "its first chunk is " + type + ", not a 13-byte IHDR";
      if (std::string p = IhdrProblem(bytes, at + 8); !p.empty()) return p;
      palette = Byte(bytes, at + 17) == 3;
      if (deep)
        rows = std::make_unique<PngRows>(BigEndian32(bytes, at + 8), BigEndian32(bytes, at + 12), Byte(bytes, at + 16),
                                         Byte(bytes, at + 17), Byte(bytes, at + 20) == 1);
    }
    plte |= type == "PLTE";
    if (type == "IDAT") {
      if (palette && !plte) return "it is a palette image (colour type 3) without a PLTE chunk before its IDAT";
      if (rows)
        if (std::string p = rows->Feed(bytes.data() + at + 8, length); !p.empty()) return p;
    }
    if (type == "IEND" && rows)
      if (std::string p = rows->End(); !p.empty()) return p;
    if (type == "iCCP" && !dropped) kept = bytes.substr(0, at), dropped = true;
    else if (type != "iCCP" && dropped) kept.append(bytes, at, end - at);
    if (type == "IEND") break;
    at = end;
  }
  if (dropped) *pruned = std::move(kept);
  return {};
}

std::string MarkerName(uint8_t m) {
  char s[8];
  std::snprintf(s, sizeof s, "FF%02X", m);
  return s;
}

// The position of the marker that ends the entropy-coded data starting at `at`, or npos.
size_t EndOfScan(const std::string& bytes, size_t at) {
  const char* data = bytes.data();
  for (;;) {
    const void* ff = std::memchr(data + at, 0xFF, bytes.size() - at);
    if (ff == nullptr) return std::string::npos;
    at = size_t(static_cast<const char*>(ff) - data);
    size_t next = at + 1;
    while (next < bytes.size() && Byte(bytes, next) == 0xFF) ++next;  // fill bytes
    if (next == bytes.size()) return std::string::npos;
    const uint8_t m = Byte(bytes, next);
    if (m != 0x00 && (m < 0xD0 || m > 0xD7)) return next - 1;
    at = next + 1;
  }
}

std::string CheckJpeg(const std::string& bytes) {
  const auto ends = [&](const std::string& where) {
    return "it ends after " + std::to_string(bytes.size()) + " bytes, " + where + ", before its end-of-image marker";
  };
  for (size_t at = 2;;) {
    while (at < bytes.size() && Byte(bytes, at) != 0xFF) ++at;  // stray bytes: libjpeg skips them too
    while (at + 1 < bytes.size() && Byte(bytes, at + 1) == 0xFF) ++at;
    if (at + 2 > bytes.size()) return ends("between segments");
    const uint8_t m = Byte(bytes, at + 1);
    if (m == 0xD9) return {};  // EOI
    // Markers without a length; FF 00 is no marker between segments (stray bytes, as libjpeg
    // takes them).
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {
      at += 2;
      continue;
    }
    if (at + 4 > bytes.size()) return ends("inside its " + MarkerName(m) + " marker");
    const size_t end = at + 2 + (size_t(Byte(bytes, at + 2)) << 8 | Byte(bytes, at + 3));
    if (end > bytes.size())
      return "it ends inside its " + MarkerName(m) + " segment (which needs byte " + std::to_string(end) + " of " +
             std::to_string(bytes.size()) + ")";
    at = end;
    if (m == 0xDA) {  // SOS: the entropy-coded data follows
      at = EndOfScan(bytes, at);
      if (at == std::string::npos) return ends("inside its scan data");
    }
  }
}

// The Netpbm formats (netpbm.sourceforge.net/doc): P1-P6 and PF/Pf carry their header as
// whitespace-separated decimal fields ('#' starts a comment to the end of its line), then one
// whitespace byte, then the raster; P7 (PAM) has "KEY value" lines up to ENDHDR.
// Netpbm's whitespace (its header fields and plain samples are separated by it).
bool IsPnmSpace(char c) { return c != '\0' && std::strchr(" \t\r\n\v\f", c) != nullptr; }

struct PnmHeader {
  uint64_t width = 0, height = 0, depth = 1, maxval = 1, bytes_per_sample = 1;
  size_t raster = 0;  // where the raster starts
};

// Reads the header of PNM bytes of kind b[1] into *h; "" or what is wrong.
std::string ReadPnmHeader(const std::string& b, PnmHeader* h) {
  const char kind = b[1];
  size_t at = 2;
  const auto space = [&](size_t i) { return i < b.size() && IsPnmSpace(b[i]); };
  const auto field = [&](std::string* out) {  // the next header field, or false at the end
    for (;;) {
      while (space(at)) ++at;
      if (at < b.size() && b[at] == '#') {
        while (at < b.size() && b[at] != '\n') ++at;
        continue;
      }
      break;
    }
    const size_t from = at;
    while (at < b.size() && !space(at) && b[at] != '#') ++at;
    *out = b.substr(from, at - from);
    return !out->empty();
  };
  const auto number = [](const std::string& f, uint64_t* v) {
    if (f.empty() || f.size() > 9 || f.find_first_not_of("0123456789") != std::string::npos) return false;
    *v = std::stoull(f);
    return true;
  };
  const std::string format = std::string("P") + kind;
  const auto ends = [&](const std::string& before) {
    return "its " + format + " header ends after " + std::to_string(b.size()) + " bytes, before " + before;
  };
  std::string f;
  if (kind == '7') {
    for (;;) {
      if (!field(&f)) return ends("ENDHDR");
      if (f == "ENDHDR") break;
      std::string v;
      const bool ok = field(&v);
      if (f == "TUPLTYPE") continue;  // a word: not counted
      uint64_t n = 0;
      if (!ok || !number(v, &n)) return "its " + format + " header has " + f + " '" + v + "', not a number";
      if (f == "WIDTH") h->width = n;
      if (f == "HEIGHT") h->height = n;
      if (f == "DEPTH") h->depth = n;
      if (f == "MAXVAL") h->maxval = n;
    }
    while (at < b.size() && b[at] != '\n') ++at;  // the rest of the ENDHDR line
  } else {
    const bool pf = kind == 'F' || kind == 'f';
    const char* names[] = {"width", "height", pf ? "scale" : "maxval"};
    const int fields = kind == '4' || kind == '1' ? 2 : 3;
    for (int k = 0; k < fields; ++k) {
      if (!field(&f)) return ends(std::string("its ") + names[k]);
      uint64_t n = 0;
      if (k == 2 && pf) continue;  // the scale is a float; any is read
      if (!number(f, &n)) return "its " + format + " header has " + names[k] + " '" + f + "', not a number";
      (k == 0 ? h->width : k == 1 ? h->height : h->maxval) = n;
    }
    h->depth = kind == '3' || kind == '6' || kind == 'F' ? 3 : 1;
    if (pf) h->bytes_per_sample = 4;
  }
  if (h->maxval > 255) h->bytes_per_sample = 2;
  h->raster = at + 1;  // after the one whitespace byte before the raster
  return {};
}

// The samples of a P2/P3 (decimal text) or a binary P5-P7 raster, read by the deep walk: Netpbm
// allows none above maxval (its tools refuse them), and OpenCV took them unsaid, a plain form's
// clamped to maxval, a binary one's kept, so that the readers' scaling by maxval clamped them
// again: a wrong image either way. A plain raster is also counted (OpenCV refused one cut short,
// in words naming no sample) and its words must be numbers (OpenCV read "3a" as 3, dropping the
// byte after the digits; Netpbm refuses it). A P1's samples are single digits 0 and 1 and a
// P4's bits: nothing above a maxval to find.
std::string CheckPnmSamples(const std::string& b, const PnmHeader& h) {
  const char kind = b[1];
  // The binary forms' size is checked (CheckPnm); a plain one's count may pass 2^64 and is read
  // up to its bytes' end anyway.
  uint64_t count = 0;
  if (__builtin_mul_overflow(h.width, h.height, &count) || __builtin_mul_overflow(count, h.depth, &count))
    count = UINT64_MAX;
  const auto where = [&](uint64_t k) {
    const uint64_t pixel = k / h.depth;
    return "its P" + std::string(1, kind) + " pixel at row " + std::to_string(pixel / h.width + 1) + ", column " +
           std::to_string(pixel % h.width + 1);
  };
  const auto above = [&](uint64_t k, const std::string& v) {
    return where(k) + " has a sample of " + Visible(v) + ", above its maxval " + std::to_string(h.maxval) +
           " (Netpbm allows none above it)";
  };
  if (kind == '2' || kind == '3') {
    size_t at = h.raster - 1;  // the whitespace byte that ends the header is also a separator
    for (uint64_t k = 0; k < count; ++k) {
      for (;;) {  // whitespace and comments between samples, as OpenCV skips them
        while (at < b.size() && IsPnmSpace(b[at])) ++at;
        if (at < b.size() && b[at] == '#') {
          while (at < b.size() && b[at] != '\n' && b[at] != '\r') ++at;
          continue;
        }
        break;
      }
      if (at >= b.size())
        return "it ends after " + std::to_string(k) + " of its " +
               (count == UINT64_MAX ? std::string("2^64 or more") : std::to_string(count)) + " P" +
               std::string(1, kind) + " samples";
      const size_t from = at;
      uint64_t v = 0;
      while (at < b.size() && b[at] >= '0' && b[at] <= '9' && v <= h.maxval) v = v * 10 + uint64_t(b[at++] - '0');
      while (at < b.size() && b[at] >= '0' && b[at] <= '9') ++at;  // a number past maxval, read no further
      if (at == from || (at < b.size() && !IsPnmSpace(b[at]) && b[at] != '#')) {
        size_t to = from;
        while (to < b.size() && to - from < 16 && !IsPnmSpace(b[to])) ++to;
        return where(k) + " has '" + Visible(b.substr(from, to - from)) + "', not a number";
      }
      if (v > h.maxval) return above(k, b.substr(from, std::min<size_t>(at - from, 16)));
    }
    return {};
  }
  if (kind < '5' || kind > '7' || h.maxval == 255 || h.maxval == 65535) return {};  // no sample can be above it
  for (uint64_t k = 0; k < count && h.raster + (k + 1) * h.bytes_per_sample <= b.size(); ++k) {
    const size_t at = h.raster + size_t(k * h.bytes_per_sample);
    const uint64_t v = h.bytes_per_sample == 1 ? Byte(b, at) : uint64_t(Byte(b, at)) << 8 | Byte(b, at + 1);
    if (v > h.maxval) return above(k, std::to_string(v));
  }
  return {};
}

// OpenCV reads a binary raster whole, so bytes short of it failed there (with its own line on
// stderr): counted here. The plain (ASCII) forms P1-P3 have no size to count: only their header
// is read, and a P2/P3's samples by the deep walk (CheckPnmSamples).
std::string CheckPnm(const std::string& b, bool deep) {
  PnmHeader h;
  if (std::string problem = ReadPnmHeader(b, &h); !problem.empty()) return problem;
  const char kind = b[1];
  // Sizes and maxvals OpenCV refuses, in its words or none ("cannot decode image").
  const std::string format = std::string("its P") + kind + " header gives ";
  if (h.width == 0 || h.height == 0)
    return format + "a size of " + std::to_string(h.width) + "x" + std::to_string(h.height);
  const bool has_maxval = kind != '1' && kind != '4' && kind != 'F' && kind != 'f';
  if (has_maxval && (h.maxval == 0 || h.maxval > 65535))
    return format + "maxval " + std::to_string(h.maxval) + ", outside 1 .. 65535";
  if (kind >= '1' && kind <= '3') return deep ? CheckPnmSamples(b, h) : std::string();
  // Checked for overflow: a P7 of WIDTH and HEIGHT 2^29 and DEPTH 32 wrapped to a size that
  // passed, and the sample walk read past the bytes.
  uint64_t row = (h.width + 7) / 8, end = 0;
  const bool over = (kind != '4' && (__builtin_mul_overflow(h.width, h.depth, &row) ||
                                     __builtin_mul_overflow(row, h.bytes_per_sample, &row))) ||
                    __builtin_mul_overflow(row, h.height, &end) || __builtin_add_overflow(end, h.raster, &end);
  if (over || end > b.size())
    return "it ends inside its P" + std::string(1, kind) + " pixel data (which needs byte " +
           (over ? std::string("past 2^64") : std::to_string(end)) + " of " + std::to_string(b.size()) + ")";
  return deep ? CheckPnmSamples(b, h) : std::string();
}

uint32_t LittleEndian(const std::string& b, size_t at, int n) {
  uint32_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = v << 8 | Byte(b, at + size_t(k));
  return v;
}

// BMP (uncompressed and bit-field rows only, as OpenCV reads them): each of the |height| rows
// holds width x bits bits, padded to 4 bytes, from the pixel data offset on.
std::string CheckBmp(const std::string& b) {
  if (b.size() < 26) return "it ends after " + std::to_string(b.size()) + " bytes, inside its BMP headers";
  const uint32_t offset = LittleEndian(b, 10, 4), info = LittleEndian(b, 14, 4);
  uint64_t width = 0, height = 0, bits = 0, compression = 0;
  if (info == 12) {  // OS/2 BITMAPCOREHEADER
    width = LittleEndian(b, 18, 2), height = LittleEndian(b, 20, 2), bits = LittleEndian(b, 24, 2);
  } else {
    if (b.size() < 34) return "it ends after " + std::to_string(b.size()) + " bytes, inside its BMP headers";
    // A negative height is a top-down image; a negative width is none.
    const int32_t w = int32_t(LittleEndian(b, 18, 4));
    if (w <= 0) return "its BMP header gives width " + std::to_string(w);
    width = uint64_t(w);
    height = uint64_t(std::abs(int64_t(int32_t(LittleEndian(b, 22, 4)))));
    bits = LittleEndian(b, 28, 2), compression = LittleEndian(b, 30, 4);
  }
  if (width == 0 || height == 0)
    return "its BMP header gives a size of " + std::to_string(width) + "x" + std::to_string(height);
  if (compression != 0 && compression != 3) return {};  // RLE: rows of varying length
  const uint64_t row = ((width * (bits == 15 ? 16 : bits) + 7) / 8 + 3) & ~uint64_t(3);
  const uint64_t end = uint64_t(offset) + row * height;
  if (end > b.size())
    return "it ends inside its BMP pixel data (which needs byte " + std::to_string(end) + " of " +
           std::to_string(b.size()) + ")";
  return {};
}

// The signatures of the formats OpenCV reads, but for WebP (RIFF....WEBP) and the PNM family
// (PnmKind); `floats` names those whose pixels are floating-point.
struct Signature {
  std::string_view magic;
  const char* floats = nullptr;
};
constexpr Signature kSignatures[] = {
    {{kPngSignature, 8}}, {"\xFF\xD8\xFF"}, {"BM"}, {"GIF87a"}, {"GIF89a"}, {{"II*\0", 4}}, {{"MM\0*", 4}},
    {"#?RADIANCE", "Radiance HDR"}, {"#?RGBE", "Radiance HDR"}, {"\x76\x2F\x31\x01", "OpenEXR"},
    {"\x59\xA6\x6A\x95"},  // Sun raster
    {{"\0\0\0\x0CjP  ", 8}}, {"\xFF\x4F\xFF\x51"}};  // JPEG 2000: file, codestream

// A PNM's kind ('1'-'7', 'F' or 'f': P1-P7, PF, Pf followed by whitespace), or '\0'.
char PnmKind(const std::string& b) {
  if (b.size() < 3 || b[0] != 'P' || !std::strchr(" \t\r\n", b[2]) || b[2] == '\0') return '\0';
  return (b[1] >= '1' && b[1] <= '7') || b[1] == 'F' || b[1] == 'f' ? b[1] : '\0';
}

}  // namespace

std::string CheckImageBytes(const std::string& bytes, std::string* pruned, bool deep) {
  pruned->clear();
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature, 8) == 0) return PrunePng(bytes, pruned, deep);
  if (bytes.size() >= 3 && Byte(bytes, 0) == 0xFF && Byte(bytes, 1) == 0xD8 && Byte(bytes, 2) == 0xFF)
    return CheckJpeg(bytes);
  const char pnm = PnmKind(bytes);
  if (pnm != '\0') return CheckPnm(bytes, deep);
  if (bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return CheckBmp(bytes);
  return {};
}

bool HasImageSignature(const std::string& b) {
  for (const Signature& s : kSignatures)
    if (b.starts_with(s.magic)) return true;
  if (b.starts_with("RIFF") && b.size() >= 12 && b.compare(8, 4, "WEBP") == 0) return true;
  return PnmKind(b) != '\0';
}

bool IsLosslessImage(const std::string& b) {
  if (const char pnm = PnmKind(b); pnm != '\0') return pnm != 'F' && pnm != 'f';  // PFM: floats, refused anyway
  return (b.size() >= 8 && std::memcmp(b.data(), kPngSignature, 8) == 0) || b.starts_with("BM") ||
         b.starts_with(std::string_view("II*\0", 4)) || b.starts_with(std::string_view("MM\0*", 4));
}

bool IsImageFile(const std::string& path) {
  if (!NotRegularFile(path).empty()) return false;
  std::ifstream in(path, std::ios::binary);
  std::string head(64, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  if (!HasImageSignature(head)) return false;
  if (!head.starts_with("BM")) return true;
  // The sizes of the BMP info headers (OS/2 1.x and 2.x, Windows 3 to 5).
  const uint32_t info = head.size() >= 18 ? LittleEndian(head, 14, 4) : 0;
  return info == 12 || info == 16 || info == 40 || info == 52 || info == 56 || info == 64 || info == 108 ||
         info == 124;
}

namespace {
// The first value of a TIFF's first-IFD SHORT field `tag`, or `otherwise` where it has none (or
// the bytes end first). Byte order: "II" little, "MM" big.
uint32_t TiffShort(const std::string& b, uint16_t tag, uint32_t otherwise) {
  const bool little = b[0] == 'I';
  const auto read = [&](size_t at, int n) -> std::optional<uint32_t> {
    if (at + size_t(n) > b.size()) return std::nullopt;
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) v = v << 8 | Byte(b, at + size_t(little ? n - 1 - k : k));
    return v;
  };
  const auto ifd = read(4, 4);
  const auto count = ifd ? read(*ifd, 2) : std::nullopt;
  if (!count) return otherwise;
  for (uint32_t e = 0; e < *count; ++e) {
    const size_t at = size_t(*ifd) + 2 + 12 * size_t(e);
    const auto t = read(at, 2), type = read(at + 2, 2), n = read(at + 4, 4);
    if (!t || !type || !n) return otherwise;
    if (*t != tag) continue;
    if (*type != 3) return otherwise;  // SHORT, as the standard gives both fields
    // Up to two SHORTs sit in the entry itself; more at the offset it holds.
    const auto where = *n <= 2 ? std::optional<uint32_t>(uint32_t(at + 8)) : read(at + 8, 4);
    const auto v = where ? read(*where, 2) : std::nullopt;
    return v ? *v : otherwise;
  }
  return otherwise;
}
}  // namespace

std::string UnreadPixelsProblem(const std::string& b) {
  const char pnm = PnmKind(b);
  std::string format = pnm == 'F' || pnm == 'f' ? "PFM" : "";
  for (const Signature& s : kSignatures)
    if (s.floats && b.starts_with(s.magic)) format = s.floats;
  if (!format.empty()) return UnreadablePixels(format + "'s floating-point");
  // A TIFF may hold any sample format: decoded to 8 bits, signed 16-bit -500..500 became 254, 254,
  // 0, 0, 1 and signed 8-bit -100 became 156 (its byte), unsaid; a float one failed in OpenCV's
  // own words. Its first image's BitsPerSample (258) and SampleFormat (339: 1 unsigned, 2
  // signed, 3 floating-point) say.
  if (b.starts_with(std::string_view("II*\0", 4)) || b.starts_with(std::string_view("MM\0*", 4))) {
    const uint32_t bits = TiffShort(b, 258, 1), sample = TiffShort(b, 339, 1);
    const std::string width = std::to_string(bits) + "-bit ";
    // In im2rec's words for the depths OpenCV decodes them to (DecodeForIm2Rec).
    if (sample == 2) return UnreadablePixels(width + "signed");
    if (sample == 3) return UnreadablePixels(width + "floating-point");
    if (sample != 1) return UnreadablePixels("TIFF sample format " + std::to_string(sample) + " (neither integer nor "
                                             "floating-point)");
    if (bits > 16) return UnreadablePixels(width + "integer");
  }
  return {};
}

unsigned PnmMaxval(const std::string& b) {
  const char pnm = PnmKind(b);
  if (!std::strchr("23567", pnm) || pnm == '\0') return 0;
  PnmHeader h;
  if (!ReadPnmHeader(b, &h).empty() || h.maxval > 65535) return 0;
  // OpenCV scales a plain P2/P3's values to 8 bits itself where maxval is at most 255; above it
  // they are stored as they are, 16 bits (1023 read as 3 of 255).
  if ((pnm == '2' || pnm == '3') && h.maxval <= 255) return 0;
  return unsigned(h.maxval);
}

std::string UnreadablePixels(const std::string& kind) {
  const bool floats = kind.find("floating-point") != std::string::npos;  // what the example fits
  return "it holds " + kind + " pixels, which the image iterators do not read" +
         (floats ? " (decoded to 8 bits, 0.46 became 0)" : "") + "; convert it to an 8- or 16-bit PNG";
}

}  // namespace umbra::io
