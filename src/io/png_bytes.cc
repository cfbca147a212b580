// The PNG chunk walk of umbra/io/png_bytes.h. The layout is the PNG specification's: an 8-byte
// signature, then chunks of a 4-byte big-endian length, a 4-byte type, the data and a CRC-32 of
// type + data.
#include "umbra/io/png_bytes.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>

namespace umbra::io {
namespace {

constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";

uint32_t BigEndian32(const std::string& b, size_t at) {
  return uint32_t(uint8_t(b[at])) << 24 | uint32_t(uint8_t(b[at + 1])) << 16 | uint32_t(uint8_t(b[at + 2])) << 8 |
         uint32_t(uint8_t(b[at + 3]));
}

}  // namespace

std::string PrunePng(const std::string& bytes, std::string* pruned) {
  pruned->clear();
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) return {};
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

}  // namespace umbra::io
