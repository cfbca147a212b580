// CheckImageBytes (umbra/io/image_bytes.h): PNG and JPEG bytes are walked before OpenCV sees
// them. A PNG's truncated or corrupted chunk or missing IEND is named and its colour profile
// (iCCP) dropped; a JPEG cut short anywhere before its end-of-image marker is named; a binary PNM
// or BMP short of its pixel data is named; anything else passes untouched.
#include "io_test_util.h"
#include "umbra/io/image_bytes.h"

#include <zlib.h>

namespace umbra::io::test {
namespace {

// A PNG header's 13 bytes: width, height, bit depth, colour type, compression, filter, interlace.
std::string Ihdr(uint32_t w, uint32_t h, int depth = 8, int colour = 2, int interlace = 0) {
  std::string d;
  for (uint32_t v : {w, h})
    for (int k = 3; k >= 0; --k) d += char(v >> (8 * k) & 0xff);
  return d + char(depth) + char(colour) + '\0' + '\0' + char(interlace);
}

// The chunk structure of a small PNG (the walk reads the structure, not the pixels).
std::string SmallPng(const std::string& ihdr = Ihdr(3, 2)) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IDAT", "pixels") +
         PngChunk("IEND", "");
}

TEST(ImageBytes, PngChunksCheckedAndProfilesDropped) {
  std::string pruned = "stale";
  const std::string png = SmallPng();
  EXPECT_EQ(CheckImageBytes(png, &pruned), "");
  EXPECT_EQ(pruned, "");  // nothing to drop: the caller keeps its bytes

  EXPECT_EQ(CheckImageBytes(AfterHeader(png, PngChunk("iCCP", "x" + std::string(2, '\0') + "junk")), &pruned), "");
  EXPECT_EQ(pruned, png);

  EXPECT_EQ(CheckImageBytes(png.substr(0, png.size() - 20), &pruned),
            "it ends inside its IDAT chunk (which needs byte 51 of 43)");
  EXPECT_EQ(CheckImageBytes(png.substr(0, png.size() - 12), &pruned), "it ends after 51 bytes, before its IEND chunk");
  std::string flipped = png;
  flipped[45] ^= 1;  // a byte of IDAT's data
  EXPECT_EQ(CheckImageBytes(flipped, &pruned), "its IDAT chunk at byte 33 is corrupt (CRC)");
  std::string huge = png;
  huge[33] = '\xff';  // IDAT's length, past 2^31
  EXPECT_HAS(CheckImageBytes(huge, &pruned), "it ends inside its IDAT chunk");

  for (const std::string other : {std::string("not an image"), std::string("\x89PNG"), std::string()})
    EXPECT_EQ(CheckImageBytes(other, &pruned), "") << other;
}

// A header libpng refuses (it printed its own lines on stderr first, and umbra's error gave only
// the byte count) or OpenCV asserts on (its assertion text reached the error line) is named.
TEST(ImageBytes, PngHeaderCheckedAsThePngStandardSays) {
  std::string pruned;
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(1, 1, 16, 6, 1)), &pruned), "");
  // A palette image needs its palette before its pixels (libpng: "Missing PLTE before IDAT").
  EXPECT_EQ(CheckImageBytes(AfterHeader(SmallPng(Ihdr(1, 1, 1, 3)), PngChunk("PLTE", "abc")), &pruned), "");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(1, 1, 1, 3)), &pruned),
            "it is a palette image (colour type 3) without a PLTE chunk before its IDAT");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(0, 0)), &pruned), "its IHDR chunk gives a size of 0x0");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(100000, 100000)), &pruned),
            "its IHDR chunk gives 100000x100000, more pixels than OpenCV decodes (2^30)");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(1000001, 1)), &pruned),
            "its IHDR chunk gives 1000001x1, wider or taller than libpng reads (10^6)");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(1000000, 1)), &pruned), "");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(4, 4, 8, 5)), &pruned),
            "its IHDR chunk gives colour type 5 with bit depth 8, which PNG does not define");
  EXPECT_EQ(CheckImageBytes(SmallPng(Ihdr(4, 4, 7, 0)), &pruned),
            "its IHDR chunk gives colour type 0 with bit depth 7, which PNG does not define");
  EXPECT_HAS(CheckImageBytes(SmallPng(Ihdr(4, 4, 8, 2, 2)), &pruned), "interlace method PNG does not define");
  EXPECT_EQ(CheckImageBytes(SmallPng(std::string(12, '\x01')), &pruned), "its first chunk is IHDR, not a 13-byte IHDR");
}

// A PNG of the given header whose pixel data is `rows` (filter bytes included) deflated, in
// `parts` IDAT chunks.
std::string PngOfRows(const std::string& ihdr, const std::string& rows, int parts = 1) {
  uLongf n = compressBound(uLong(rows.size()));
  std::string z(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(rows.data()),
                     uLong(rows.size())), Z_OK);
  z.resize(n);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr);
  for (int k = 0; k < parts; ++k) png += PngChunk("IDAT", z.substr(z.size() * k / parts, z.size() * (k + 1) / parts -
                                                                                       z.size() * k / parts));
  return png + PngChunk("IEND", "");
}

// The deep walk inflates a PNG's pixel data and counts its rows (libpng printed "Not enough image
// data" and the like on stderr, naming no file, and umbra's error gave only the byte count): a
// 3x2 RGB image has 2 rows of a filter byte and 9 bytes; interlaced, its Adam7 passes have 4 rows
// of 4, 4, 4 and 10 bytes. The plain walk reads no pixel data.
TEST(ImageBytes, DeepPngWalkCountsThePixelRows) {
  std::string pruned;
  const std::string row(9, '\x07'), rows = '\0' + row + '\x04' + row;
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2), rows), &pruned, true), "");
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2), rows, 3), &pruned, true), "");  // in three IDAT chunks
  const std::string interlaced = std::string(4, '\0') + std::string(4, '\1') + std::string(4, '\2') + '\3' + row;
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2, 8, 2, 1), interlaced), &pruned, true), "");
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2, 8, 2, 1), std::string(20, '\0')), &pruned, true),
            "its pixel data holds 20 bytes of rows, fewer than its image needs (22)");
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2), rows.substr(0, 19)), &pruned, true),
            "its pixel data holds 19 bytes of rows, fewer than its image needs (20)");
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2), rows.substr(0, 19)), &pruned), "");  // not deep
  std::string filter = rows;
  filter[10] = '\x07';
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2), filter), &pruned, true),
            "row 1 of its pixel data has filter type 7, which PNG does not define (0-4)");
  EXPECT_HAS(CheckImageBytes(SmallPng(), &pruned, true), "its pixel data (the IDAT chunks' zlib stream) is corrupt: ");
  // 16-bit gray, 2 bits a pixel in a palette: (2 * 2) + 1 and (5 * 2 + 7) / 8 + 1 bytes a row.
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(2, 1, 16, 0), std::string(5, '\0')), &pruned, true), "");
  EXPECT_EQ(CheckImageBytes(AfterHeader(PngOfRows(Ihdr(5, 2, 2, 3), std::string(6, '\0')), PngChunk("PLTE", "abc")),
                            &pruned, true),
            "");
  // Rows whole but the stream unended (its Adler-32 cut off): libpng refuses it ("Not enough image
  // data"), so does the walk.
  const std::string whole = PngOfRows(Ihdr(3, 2), rows);
  const size_t idat = whole.find("IDAT") - 4;
  const uint32_t zlen = uint32_t(uint8_t(whole[idat])) << 24 | uint32_t(uint8_t(whole[idat + 1])) << 16 |
                        uint32_t(uint8_t(whole[idat + 2])) << 8 | uint8_t(whole[idat + 3]);
  const std::string cut = std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", Ihdr(3, 2)) +
                          PngChunk("IDAT", whole.substr(idat + 8, zlen - 4)) + PngChunk("IEND", "");
  EXPECT_EQ(CheckImageBytes(cut, &pruned, true),
            "its pixel data's zlib stream is cut short (the rows are whole, its end is missing)");
  // An interlaced image's bad filter names its Adam7 pass.
  std::string bad_pass = interlaced;
  bad_pass[4] = '\x09';
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2, 8, 2, 1), bad_pass), &pruned, true),
            "row 0 of Adam7 pass 4 of its pixel data has filter type 9, which PNG does not define (0-4)");
  // More data than the image (libpng warns and decodes): not refused.
  EXPECT_EQ(CheckImageBytes(PngOfRows(Ihdr(3, 2), rows + rows), &pruned, true), "");
}

// A JPEG segment: marker FF m and a length that counts its own two bytes.
std::string Segment(uint8_t m, const std::string& data) {
  const size_t n = data.size() + 2;
  return std::string{'\xff', char(m), char(n >> 8), char(n & 0xff)} + data;
}

// The marker structure of a JPEG: an APP1 holding a thumbnail's end-of-image marker (skipped by
// its length), tables, a frame and one scan whose data has a stuffed FF 00, a restart FF D3 and
// fill bytes before the EOI.
std::string SmallJpeg() {
  return std::string("\xff\xd8", 2) + Segment(0xE1, std::string("Exif\0\0\xff\xd9", 8)) +
         Segment(0xDB, std::string(65, '\x01')) + Segment(0xC0, std::string(15, '\x02')) +
         Segment(0xC4, std::string(20, '\x03')) + Segment(0xDA, std::string(10, '\x04')) +
         std::string("ab\xff\x00" "cd\xff\xd3" "ef\xff\xff\xff\xd9", 14);
}

TEST(ImageBytes, JpegCutShortIsNamed) {
  std::string pruned;
  const std::string jpg = SmallJpeg();
  ASSERT_EQ(jpg.size(), 154u);
  EXPECT_EQ(CheckImageBytes(jpg, &pruned), "");
  EXPECT_EQ(pruned, "");
  EXPECT_EQ(CheckImageBytes(jpg + "trailing bytes", &pruned), "");  // as libjpeg: after EOI nothing is read
  // Stray bytes between segments: libjpeg skips them with a warning, and real data sets hold them.
  EXPECT_EQ(CheckImageBytes(jpg.substr(0, 14) + "xx" + jpg.substr(14), &pruned), "");
  EXPECT_EQ(CheckImageBytes(jpg.substr(0, 14) + std::string("\xff\x00\xff\xd3", 4) + jpg.substr(14), &pruned), "");

  EXPECT_EQ(CheckImageBytes(jpg.substr(0, 14), &pruned),
            "it ends after 14 bytes, between segments, before its end-of-image marker");  // after APP1
  EXPECT_EQ(CheckImageBytes(jpg.substr(0, 40), &pruned), "it ends inside its FFDB segment (which needs byte 83 of 40)");
  EXPECT_EQ(CheckImageBytes(jpg.substr(0, 16), &pruned),
            "it ends after 16 bytes, inside its FFDB marker, before its end-of-image marker");
  for (size_t cut : {140, 146, 150, 152, 153})  // in the scan: data, after FF 00, after a restart, in the fill
    EXPECT_EQ(CheckImageBytes(jpg.substr(0, cut), &pruned),
              "it ends after " + std::to_string(cut) + " bytes, inside its scan data, before its end-of-image marker");
}

// The deep walk reads a PNM's samples: Netpbm allows none above maxval, and OpenCV clamped a
// plain P2/P3's to maxval and kept a binary one's (which the readers' scaling then clamped), a
// wrong image unsaid. A plain raster's samples are also counted and must be numbers.
TEST(ImageBytes, DeepWalkReadsPnmSamples) {
  std::string pruned;
  const auto deep = [&](const std::string& b) { return CheckImageBytes(b, &pruned, /*deep=*/true); };
  EXPECT_EQ(deep("P2\n3 2\n255\n0 1 2\n# a comment\n3 4 255\n"), "");
  EXPECT_EQ(deep("P2\n3 2\n255\n0 1 2 3 4 255"), "");  // no whitespace after the last
  EXPECT_EQ(deep("P2\n3 2\n100\n0 1 2\n3 101 5\n"),
            "its P2 pixel at row 2, column 2 has a sample of 101, above its maxval 100 (Netpbm allows none above it)");
  EXPECT_EQ(CheckImageBytes("P2\n3 2\n100\n0 1 2\n3 101 5\n", &pruned), "");  // not deep
  EXPECT_HAS(deep("P2\n1 1\n255\n99999999999999999999999\n"),
             "has a sample of 9999999999999999, above its maxval 255");  // cut at 16 digits
  EXPECT_EQ(deep("P2\n3 2\n255\n1 2"), "it ends after 2 of its 6 P2 samples");
  EXPECT_EQ(deep("P2\n3 2\n255\n1 2 x3 4 5 6\n"), "its P2 pixel at row 1, column 3 has 'x3', not a number");
  EXPECT_EQ(deep("P2\n3 2\n255\n1 2 3a 4 5 6\n"), "its P2 pixel at row 1, column 3 has '3a', not a number");
  EXPECT_EQ(deep("P3\n2 1\n255\n1 2 3 4 5 256\n"),
            "its P3 pixel at row 1, column 2 has a sample of 256, above its maxval 255 (Netpbm allows none above it)");
  // Binary rasters: one byte a sample up to maxval 255, two (big-endian) above it.
  EXPECT_EQ(deep("P5\n2 2\n200\n" + std::string("\x00\xc8\x01\x02", 4)), "");
  EXPECT_EQ(deep("P5\n2 2\n200\n" + std::string("\x00\xc8\x01\xc9", 4)),
            "its P5 pixel at row 2, column 2 has a sample of 201, above its maxval 200 (Netpbm allows none above it)");
  EXPECT_EQ(deep("P5\n2 1\n1023\n" + std::string("\x03\xff\x04\x00", 4)),
            "its P5 pixel at row 1, column 2 has a sample of 1024, above its maxval 1023 (Netpbm allows none above it)");
  EXPECT_HAS(deep("P6\n2 1\n100\n" + std::string("\x00\x00\x00\x00\x65\x00", 6)),
             "its P6 pixel at row 1, column 2 has a sample of 101");
  const std::string pam = "P7\nWIDTH 2\nHEIGHT 1\nDEPTH 2\nMAXVAL 15\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n";
  EXPECT_EQ(deep(pam + std::string("\x0f\x0f\x00\x0f", 4)), "");
  EXPECT_HAS(deep(pam + std::string("\x0f\x0f\x00\x10", 4)), "its P7 pixel at row 1, column 2 has a sample of 16");
  EXPECT_EQ(deep("P5\n2 1\n255\n\xff\xff"), "");  // maxval 255 or 65535: none can be above it
  // A size past 2^64 bytes wrapped to one that passed, and the walk read past the bytes.
  const std::string huge = "P7\nWIDTH 536870912\nHEIGHT 536870912\nDEPTH 32\nMAXVAL 1000\nENDHDR\n";
  EXPECT_EQ(deep(huge + std::string(64, '\0')),
            "it ends inside its P7 pixel data (which needs byte past 2^64 of " + std::to_string(huge.size() + 64) + ")");
  // A word's control bytes are shown escaped.
  EXPECT_EQ(deep("P2\n1 1\n255\n4\x01\n"), "its P2 pixel at row 1, column 1 has '4\\x01', not a number");
}

// Binary PNM and BMP: the header gives the size of the pixel data, which must all be there (OpenCV
// printed its own line and failed on the rest). Checked by hand against OpenCV 4.6: over every
// cut of its own encodings (P4-P7, PF, 8- and 16-bit, BMP grey and colour, widths 1-13), this
// check fails exactly where imdecode does.
TEST(ImageBytes, PnmAndBmpPixelDataIsCounted) {
  std::string pruned;
  const std::string p5 = "P5\n# a comment\n3 2\n255\n" + std::string(6, 'x');
  EXPECT_EQ(CheckImageBytes(p5, &pruned), "");
  EXPECT_EQ(CheckImageBytes(p5 + "more", &pruned), "");  // bytes after the raster are not read
  EXPECT_EQ(CheckImageBytes(p5.substr(0, p5.size() - 1), &pruned),
            "it ends inside its P5 pixel data (which needs byte 29 of 28)");
  EXPECT_EQ(CheckImageBytes("P5 3 2 65535 " + std::string(11, 'x'), &pruned),
            "it ends inside its P5 pixel data (which needs byte 25 of 24)");  // two bytes a sample
  EXPECT_EQ(CheckImageBytes("P6\n3 2\n255\n" + std::string(18, 'x'), &pruned), "");
  EXPECT_EQ(CheckImageBytes("P4\n9 2\n" + std::string(4, 'x'), &pruned), "");  // rows of whole bytes
  EXPECT_EQ(CheckImageBytes("P4\n9 2\n" + std::string(3, 'x'), &pruned),
            "it ends inside its P4 pixel data (which needs byte 11 of 10)");
  EXPECT_EQ(CheckImageBytes("Pf\n2 2\n-1.0\n" + std::string(16, 'x'), &pruned), "");
  EXPECT_EQ(CheckImageBytes("PF\n2 2\n-1.0\n" + std::string(16, 'x'), &pruned),
            "it ends inside its PF pixel data (which needs byte 60 of 28)");  // three floats a pixel
  const std::string pam = "P7\nWIDTH 2\nHEIGHT 2\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n";
  EXPECT_EQ(CheckImageBytes(pam + std::string(12, 'x'), &pruned), "");
  EXPECT_HAS(CheckImageBytes(pam + std::string(11, 'x'), &pruned), "it ends inside its P7 pixel data");
  EXPECT_EQ(CheckImageBytes("P5\n3 2\n", &pruned), "its P5 header ends after 7 bytes, before its maxval");
  EXPECT_EQ(CheckImageBytes("P5\n3 two\n255\n", &pruned), "its P5 header has height 'two', not a number");
  EXPECT_EQ(CheckImageBytes("P7\nWIDTH 2\n", &pruned), "its P7 header ends after 11 bytes, before ENDHDR");
  EXPECT_EQ(CheckImageBytes("P2\n3 2\n255\n1 2", &pruned), "");  // plain (ASCII) PNM: its header alone
  // Sizes and maxvals OpenCV refuses with no reason ("cannot decode image").
  EXPECT_EQ(CheckImageBytes("P5\n0 0\n255\n", &pruned), "its P5 header gives a size of 0x0");
  EXPECT_EQ(CheckImageBytes("P2\n2 1\n0\n0 0\n", &pruned), "its P2 header gives maxval 0, outside 1 .. 65535");
  EXPECT_EQ(CheckImageBytes("P5\n1 1\n70000\n", &pruned), "its P5 header gives maxval 70000, outside 1 .. 65535");

  // A BMP: file header, BITMAPINFOHEADER (40 bytes), rows of 3 x 24 bits padded to 12 bytes.
  const auto le = [](uint32_t v, int n) {
    std::string s;
    for (int k = 0; k < n; ++k) s.push_back(char(v >> (8 * k) & 0xff));
    return s;
  };
  const std::string info = le(40, 4) + le(3, 4) + le(uint32_t(-2), 4) + le(1, 2) + le(24, 2) + le(0, 4) +
                           std::string(20, '\0');  // height -2: top-down rows
  const std::string bmp = "BM" + le(0, 4) + le(0, 4) + le(54, 4) + info + std::string(24, 'x');
  EXPECT_EQ(CheckImageBytes(bmp, &pruned), "");
  EXPECT_EQ(CheckImageBytes(bmp.substr(0, 77), &pruned), "it ends inside its BMP pixel data (which needs byte 78 of 77)");
  EXPECT_EQ(CheckImageBytes(bmp.substr(0, 30), &pruned), "it ends after 30 bytes, inside its BMP headers");
  std::string rle = bmp.substr(0, 60);
  rle[30] = 1;  // BI_RLE8: rows of varying length, not counted
  EXPECT_EQ(CheckImageBytes(rle, &pruned), "");
  std::string wide = bmp, flat = bmp;
  wide.replace(18, 4, le(uint32_t(-3), 4));  // a negative width is none (a negative height is top-down)
  EXPECT_EQ(CheckImageBytes(wide, &pruned), "its BMP header gives width -3");
  flat.replace(22, 4, le(0, 4));
  EXPECT_EQ(CheckImageBytes(flat, &pruned), "its BMP header gives a size of 3x0");
}

TEST(ImageBytes, SignaturesOfTheFormatsOpenCVReads) {
  std::string pruned;
  const std::vector<std::string> images = {std::string("\x89PNG\r\n\x1a\n", 8), "\xFF\xD8\xFF\xE0", "BM6\0",
                                           "GIF89a", std::string("II*\0", 4), std::string("MM\0*", 4),
                                           std::string("RIFF\0\0\0\0WEBPVP8 ", 16), "P5\n28 28", "P6 1 1",
                                           "PF\n", "#?RADIANCE\n"};
  for (const std::string& b : images) EXPECT_TRUE(HasImageSignature(b)) << b;
  for (const std::string& b : {std::string("just some text\n"), std::string("P"), std::string("P9\n"),
                               std::string("RIFF\0\0\0\0WAVEfmt "), std::string()})
    EXPECT_FALSE(HasImageSignature(b)) << b;
  // PnmKind's signature also sends a binary PNM to its structure check, and a text one past it.
  EXPECT_EQ(CheckImageBytes("P5\n4 4\n255\n", &pruned),
            "it ends inside its P5 pixel data (which needs byte 27 of 11)");
  EXPECT_EQ(CheckImageBytes("P2\n4 4\n255\n", &pruned), "");
}

// The floating-point formats are told by their signatures, in the wording im2rec and the
// iterators share; integer PNMs and other formats pass.
TEST(ImageBytes, FloatingPointFormatsAreNamed) {
  for (const auto& [bytes, format] : std::vector<std::pair<std::string, std::string>>{
           {"Pf\n1 1\n-1.0\n", "PFM"}, {"PF 1 1\n", "PFM"}, {"#?RADIANCE\n", "Radiance HDR"},
           {"#?RGBE\n", "Radiance HDR"}, {"\x76\x2F\x31\x01\x02", "OpenEXR"}})
    EXPECT_EQ(UnreadPixelsProblem(bytes), UnreadablePixels(format + "'s floating-point")) << bytes;
  EXPECT_EQ(UnreadablePixels("PFM's floating-point"),
            "it holds PFM's floating-point pixels, which the image iterators do not read (decoded to 8 bits, 0.46 "
            "became 0); convert it to an 8- or 16-bit PNG");
  EXPECT_EQ(UnreadablePixels("32-bit integer"),
            "it holds 32-bit integer pixels, which the image iterators do not read; convert it to an 8- or 16-bit PNG");
  for (const std::string& b : {std::string("P5\n1 1\n255\n\x7f"), std::string("Pfx"), std::string("#?RGB"),
                               std::string("\x89PNG\r\n\x1a\n", 8), std::string()})
    EXPECT_EQ(UnreadPixelsProblem(b), "") << b;
}

}  // namespace
}  // namespace umbra::io::test
