// PrunePng (umbra/io/png_bytes.h): PNG bytes are walked chunk by chunk before OpenCV sees them; a
// truncated or corrupted chunk or a missing IEND is named, a colour profile (iCCP) is dropped,
// and anything that is not a PNG passes untouched.
#include "io_test_util.h"
#include "umbra/io/png_bytes.h"

namespace umbra::io::test {
namespace {

// The chunk structure of a small PNG (PrunePng reads the structure, not the pixels).
std::string SmallPng() {
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", std::string(13, '\x01')) +
         PngChunk("IDAT", "pixels") + PngChunk("IEND", "");
}

TEST(PngBytes, ChunksCheckedAndProfilesDropped) {
  std::string pruned = "stale";
  const std::string png = SmallPng();
  EXPECT_EQ(PrunePng(png, &pruned), "");
  EXPECT_EQ(pruned, "");  // nothing to drop: the caller keeps its bytes

  EXPECT_EQ(PrunePng(AfterHeader(png, PngChunk("iCCP", "x" + std::string(2, '\0') + "junk")), &pruned), "");
  EXPECT_EQ(pruned, png);

  EXPECT_EQ(PrunePng(png.substr(0, png.size() - 20), &pruned), "it ends inside its IDAT chunk (which needs byte 51 of 43)");
  EXPECT_EQ(PrunePng(png.substr(0, png.size() - 12), &pruned), "it ends after 51 bytes, before its IEND chunk");
  std::string flipped = png;
  flipped[45] ^= 1;  // a byte of IDAT's data
  EXPECT_EQ(PrunePng(flipped, &pruned), "its IDAT chunk at byte 33 is corrupt (CRC)");
  std::string huge = png;
  huge[33] = '\xff';  // IDAT's length, past 2^31
  EXPECT_HAS(PrunePng(huge, &pruned), "it ends inside its IDAT chunk");

  for (const std::string other : {std::string("not a png"), std::string("\xff\xd8\xff\xe0 jpeg"), std::string()})
    EXPECT_EQ(PrunePng(other, &pruned), "") << other;
}

}  // namespace
}  // namespace umbra::io::test
