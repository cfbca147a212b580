// Image bytes checked before OpenCV decodes them. OpenCV's codecs are lenient where a data set
// needs an error: a JPEG cut short decodes without a word, its missing rows grey (a silent wrong
// image), and libpng's default handlers print on stderr (a truncated PNG gave libpng's line and
// then umbra's error). So a file's structure is walked here first, and what is wrong is one umbra
// error naming the image. PNG iCCP chunks (colour profiles, which OpenCV does not apply) are
// dropped too, since libpng warns on every decode of many real profiles ("iCCP: known incorrect
// sRGB profile"), a line per image per epoch. A binary PNM or BMP cut short made OpenCV print its
// own line before failing: its pixel data is counted here. Used by the img/imgrec iterators and
// by im2rec.
#pragma once

#include <string>

namespace umbra::io {

/// Checks the structure of PNG, JPEG, binary PNM and BMP bytes (told apart by signature; other
/// formats pass untouched) and returns "" or what is wrong ("it ends inside its IDAT chunk (which
/// needs byte 120 of 97)"). A PNG's chunks are walked with their lengths and CRCs up to IEND; a
/// JPEG's segments and scans up to its end-of-image marker; a PNM's header (P4-P7, PF, Pf) and a
/// BMP's (uncompressed rows) give the size of the pixel data, which must be there. Where a PNG
/// had an iCCP chunk, *pruned receives the bytes without it (else it is left empty): decode
/// those instead. A palette PNG needs its PLTE chunk before its pixel data. `deep` also inflates
/// a PNG's pixel data to count its rows and check their filter bytes (a short or corrupt stream,
/// which libpng reported on stderr, naming no file), and reads a PNM's samples (none may be above
/// its maxval, which OpenCV clamped unsaid; a plain P2/P3's must be numbers, as many as its size
/// says): the readers ask it at an image's first decode of a run, and im2rec when it packs one.
std::string CheckImageBytes(const std::string& bytes, std::string* pruned, bool deep = false);

/// Whether the bytes start with the signature of an image format OpenCV reads (PNG, JPEG, BMP,
/// GIF, TIFF, WebP, the PNM family and PFM, JPEG 2000, OpenEXR, Radiance HDR, Sun raster).
bool HasImageSignature(const std::string& bytes);

/// Whether the bytes are of a lossless image format, by signature: PNG, BMP, TIFF, the PNM
/// family (im2rec's resize re-encodes those as PNG, others as JPEG).
bool IsLosslessImage(const std::string& bytes);

/// Whether `path` is a regular file whose first bytes are an image's (HasImageSignature; "BM" only
/// with a BMP info header's size after it, since two bytes begin other files by chance): what an
/// output must not replace (a pred over an image its block read replaced it with labels).
bool IsImageFile(const std::string& path);

/// Why the bytes' pixels cannot be read, where their signature names a floating-point format
/// (PFM, OpenEXR, Radiance HDR) or their TIFF header a sample format other than 8 or 16 bits
/// unsigned, or "". Decoded to 8 bits such pixels (0.46, a PFM's) became 0: a net trained on
/// zeros; a signed TIFF's -500 became 254.
std::string UnreadPixelsProblem(const std::string& bytes);

/// The maxval of a PNM header (the value that stands for full intensity) whose pixels OpenCV does
/// not scale by it: a binary P5, P6 or P7's, a plain P2 or P3's above 255 (OpenCV scales plain
/// ones up to 255 itself); 0 for other bytes. A 10-bit PGM's white (1023) came out as 3 of 255,
/// and maxval 100's as 100. The readers scale by it where it is not 255 or 65535.
unsigned PnmMaxval(const std::string& bytes);

/// The one wording for pixels the image iterators do not read (all but 8 or 16 bits unsigned):
/// "it holds <kind> pixels, which the image iterators do not read[ (decoded to 8 bits, 0.46
/// became 0), for a floating-point kind]; convert it to an 8- or 16-bit PNG".
std::string UnreadablePixels(const std::string& kind);

}  // namespace umbra::io
