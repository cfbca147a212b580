// PNG bytes made ready for OpenCV's decoder, which leaves libpng's default handlers to print on
// stderr: a truncated or corrupted chunk is found here first (one umbra error, not libpng's line
// and then umbra's), and iCCP chunks (colour profiles, which OpenCV does not apply) are dropped,
// since libpng warns on every decode of many real profiles ("iCCP: known incorrect sRGB
// profile") — a line per image per epoch. Other formats pass untouched. Used by the img/imgrec
// iterators and by im2rec, which packs the pruned bytes.
#pragma once

#include <string>

namespace umbra::io {

/// For PNG bytes (by signature): walks the chunks, checking each one's length and CRC, up to
/// IEND. Returns "" or what is wrong ("it ends inside its IDAT chunk (byte 120 of 97)"); where
/// an iCCP chunk was present, *pruned receives the bytes without it (else it is left empty).
std::string PrunePng(const std::string& bytes, std::string* pruned);

}  // namespace umbra::io
