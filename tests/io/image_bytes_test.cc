// CheckImageBytes (umbra/io/image_bytes.h): PNG and JPEG bytes are walked before OpenCV sees
// them. A PNG's truncated or corrupted chunk or missing IEND is named and its colour profile
// (iCCP) dropped; a JPEG cut short anywhere before its end-of-image marker is named; anything
// else passes untouched.
#include "io_test_util.h"
#include "umbra/io/image_bytes.h"

namespace umbra::io::test {
namespace {

// The chunk structure of a small PNG (the walk reads the structure, not the pixels).
std::string SmallPng() {
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", std::string(13, '\x01')) +
         PngChunk("IDAT", "pixels") + PngChunk("IEND", "");
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

TEST(ImageBytes, SignaturesOfTheFormatsOpenCVReads) {
  const std::vector<std::string> images = {std::string("\x89PNG\r\n\x1a\n", 8), "\xFF\xD8\xFF\xE0", "BM6\0",
                                           "GIF89a", std::string("II*\0", 4), std::string("MM\0*", 4),
                                           std::string("RIFF\0\0\0\0WEBPVP8 ", 16), "P5\n28 28", "P6 1 1",
                                           "PF\n", "#?RADIANCE\n"};
  for (const std::string& b : images) EXPECT_TRUE(HasImageSignature(b)) << b;
  for (const std::string& b : {std::string("just some text\n"), std::string("P"), std::string("P9\n"),
                               std::string("RIFF\0\0\0\0WAVEfmt "), std::string()})
    EXPECT_FALSE(HasImageSignature(b)) << b;
}

}  // namespace
}  // namespace umbra::io::test
