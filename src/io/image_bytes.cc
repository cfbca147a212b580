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

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace umbra::io {
namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";

uint8_t Byte(const std::string& b, size_t at) { return uint8_t(b[at]); }

uint32_t BigEndian32(const std::string& b, size_t at) {
  return uint32_t(Byte(b, at)) << 24 | uint32_t(Byte(b, at + 1)) << 16 | uint32_t(Byte(b, at + 2)) << 8 |
         uint32_t(Byte(b, at + 3));
}

std::string PrunePng(const std::string& bytes, std::string* pruned) {
  std::string kept;  // the bytes without iCCP, copied only once one is met
  bool dropped = false;
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

}  // namespace

std::string CheckImageBytes(const std::string& bytes, std::string* pruned) {
  pruned->clear();
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature, 8) == 0) return PrunePng(bytes, pruned);
  if (bytes.size() >= 3 && Byte(bytes, 0) == 0xFF && Byte(bytes, 1) == 0xD8 && Byte(bytes, 2) == 0xFF)
    return CheckJpeg(bytes);
  return {};
}

bool HasImageSignature(const std::string& b) {
  const auto starts = [&](std::string_view s) { return b.size() >= s.size() && b.compare(0, s.size(), s) == 0; };
  if (starts({kPngSignature, 8}) || starts("\xFF\xD8\xFF") || starts("BM") || starts("GIF87a") || starts("GIF89a") ||
      starts({"II*\0", 4}) || starts({"MM\0*", 4}) || starts("#?RADIANCE") || starts("#?RGBE") ||
      starts("\x76\x2F\x31\x01") || starts("\x59\xA6\x6A\x95") || starts({"\0\0\0\x0CjP  ", 8}) ||
      starts("\xFF\x4F\xFF\x51"))
    return true;
  if (starts("RIFF") && b.size() >= 12 && b.compare(8, 4, "WEBP") == 0) return true;
  // PNM: P1-P7 or PF/Pf, then whitespace.
  return b.size() >= 3 && b[0] == 'P' && ((b[1] >= '1' && b[1] <= '7') || b[1] == 'F' || b[1] == 'f') &&
         (b[2] == '\n' || b[2] == '\r' || b[2] == ' ' || b[2] == '\t');
}

}  // namespace umbra::io
