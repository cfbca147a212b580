// Every augmentation on a known input, through the img iterator's keys: centre crop, fixed crop,
// mirror, random-size crop, rotation by 90 degrees and fill_value, scale, mean values per channel
// (mean_r on channel 0 = red), mean image computed-then-read, divideby/scale, illumination and
// contrast, and reproducibility of an epoch from (seed, epoch).
#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV
#include <set>

#include "image_test_util.h"
#include "umbra/io/mean_image.h"

namespace umbra::io::test {
namespace {

using KV = std::vector<std::pair<std::string, std::string>>;

// One image with pixel (y, x) = (r, g, b) = (10y + x, 100 + 10y + x, 7): positions readable from red.
std::unique_ptr<DataIterator> OnImage(const TempDir& dir, int h, int w, const std::string& shape, KV keys,
                                      std::function<Rgb(int, int)> rgb = nullptr) {
  if (!rgb) rgb = [](int y, int x) { return Rgb{10 * y + x, 100 + 10 * y + x, 7}; };
  WritePng(dir / "a.png", h, w, rgb);
  keys.insert(keys.end(), {{"image_list", OneImageList(dir, "a.png")}, {"image_root", dir.path()},
                           {"input_shape", shape}, {"batch_size", "1"}});
  auto it = Make("img", keys);
  EXPECT_TRUE(it->Next());
  return it;
}

// `n` copies of one h x w image in one batch of n rows: a random augmentation's draws, side by side.
std::unique_ptr<DataIterator> Copies(const TempDir& dir, int n, int h, int w, const std::string& shape, KV keys,
                                     std::function<Rgb(int, int)> rgb) {
  WritePng(dir / "a.png", h, w, rgb);
  std::string list;
  for (int i = 0; i < n; ++i) list += std::to_string(i) + "\t0\ta.png\n";
  WriteText(dir / "l.lst", list);
  keys.insert(keys.end(), {{"image_list", dir / "l.lst"}, {"image_root", dir.path()}, {"input_shape", shape},
                           {"batch_size", std::to_string(n)}});
  auto it = Make("img", keys);
  EXPECT_TRUE(it->Next());
  return it;
}

// Black 5x5 with one white pixel at the top right.
Rgb WhiteCorner(int y, int x) { return y == 0 && x == 4 ? Rgb{255, 255, 255} : Rgb{0, 0, 0}; }

TEST(Augment, CentreCropPicksTheCentre) {
  TempDir dir;
  auto it = OnImage(dir, 6, 8, "3,2,4", {});
  // rows (6-2)/2 = 2.., cols (8-4)/2 = 2..
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x) {
      EXPECT_EQ(At(it->Value(), 0, 0, y, x), 10 * (y + 2) + (x + 2));
      EXPECT_EQ(At(it->Value(), 0, 1, y, x), 100 + 10 * (y + 2) + (x + 2));
      EXPECT_EQ(At(it->Value(), 0, 2, y, x), 7);
    }
}

TEST(Augment, FixedCropStart) {
  TempDir dir;
  auto it = OnImage(dir, 6, 8, "3,2,4", {{"crop_y_start", "0"}, {"crop_x_start", "4"}});
  EXPECT_EQ(At(it->Value(), 0, 0, 0, 0), 4);
  EXPECT_EQ(At(it->Value(), 0, 0, 1, 3), 17);
}

TEST(Augment, MirrorFlipsColumns) {
  TempDir dir;
  auto it = OnImage(dir, 3, 5, "3,3,5", {{"mirror", "1"}});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(At(it->Value(), 0, 0, y, x), 10 * y + (4 - x));
}

TEST(Augment, RandMirrorFlipsAboutHalfTheRows) {
  TempDir dir;
  auto it = Copies(dir, 64, 1, 2, "3,1,2", {{"rand_mirror", "1"}}, [](int, int x) { return Rgb{x, 0, 0}; });
  int flipped = 0;
  for (int n = 0; n < 64; ++n) flipped += At(it->Value(), n, 0, 0, 0) == 1;
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(Augment, RotateBy90MovesAKnownPixel) {
  TempDir dir;
  // A quarter turn counter-clockwise takes the top right pixel to the top left.
  auto it = OnImage(dir, 5, 5, "3,5,5", {{"rotate", "90"}}, WhiteCorner);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(At(it->Value(), 0, 1, y, x), y == 0 && x == 0 ? 255 : 0) << y << "," << x;
}

// cxxnet turned by rotate only where it was above 0: rotate = 0 beside max_rotate_angle leaves the
// random turn (it turned nothing here, unsaid).
TEST(Augment, RotateZeroLeavesTheRandomTurn) {
  TempDir dir;
  auto it = Copies(dir, 16, 5, 5, "3,5,5", {{"rotate", "0"}, {"max_rotate_angle", "90"}}, WhiteCorner);
  int moved = 0;
  for (int n = 0; n < 16; ++n) moved += At(it->Value(), n, 0, 0, 4) != 255;
  EXPECT_GT(moved, 8);  // a turn of a degree or more moves the corner pixel
}

// rotate_list (cxxnet's): each image turns by one of the listed angles; all of them are drawn
// (cxxnet's draw never took the last). One angle is a fixed turn, which the mean image gets too.
TEST(Augment, RotateListDrawsEachListedAngle) {
  TempDir dir;
  auto it = Copies(dir, 64, 5, 5, "3,5,5", {{"rotate_list", "0,90"}, {"max_rotate_angle", "30"}}, WhiteCorner);
  int still = 0, turned = 0;  // 90 counter-clockwise takes the top right to the top left
  for (int n = 0; n < 64; ++n) {
    still += At(it->Value(), n, 0, 0, 4) == 255;
    turned += At(it->Value(), n, 0, 0, 0) == 255;
  }
  EXPECT_EQ(still + turned, 64);  // no other angle (max_rotate_angle's draw is replaced)
  EXPECT_GT(still, 16);
  EXPECT_GT(turned, 16);
  auto one = OnImage(dir, 5, 5, "3,5,5", {{"rotate_list", "90"}}, WhiteCorner);
  EXPECT_EQ(At(one->Value(), 0, 0, 0, 0), 255);
}

// min_img_size / max_img_size bound the warped image's sides (cxxnet's): a larger canvas is filled
// with fill_value around the image, a smaller one keeps its centre.
TEST(Augment, ImgSizeBoundsTheWarpedImage) {
  TempDir dir;
  auto it = OnImage(dir, 4, 4, "3,6,6", {{"min_img_size", "6"}, {"fill_value", "9"}},
                    [](int, int) { return Rgb{200, 0, 0}; });
  EXPECT_EQ(At(it->Value(), 0, 0, 0, 0), 9);
  EXPECT_EQ(At(it->Value(), 0, 0, 5, 5), 9);
  EXPECT_EQ(At(it->Value(), 0, 0, 2, 2), 200);
  // 8x8 to a 4x4 canvas: its centre (rows and columns 2..5), not a scaled-down whole.
  TempDir dir2;
  auto big = OnImage(dir2, 8, 8, "3,4,4", {{"max_img_size", "4"}});
  EXPECT_NEAR(At(big->Value(), 0, 0, 0, 0), 22, 1);
  EXPECT_NEAR(At(big->Value(), 0, 0, 3, 3), 55, 1);
}

TEST(Augment, RotationFillsCornersWithFillValue) {
  TempDir dir;
  auto it = OnImage(dir, 9, 9, "3,9,9", {{"rotate", "45"}, {"fill_value", "77"}},
                    [](int, int) { return Rgb{0, 0, 0}; });
  EXPECT_EQ(At(it->Value(), 0, 0, 0, 0), 77);
  EXPECT_EQ(At(it->Value(), 0, 2, 8, 8), 77);
  EXPECT_EQ(At(it->Value(), 0, 0, 4, 4), 0);
}

TEST(Augment, ScaleHalvesTheImage) {
  TempDir dir;
  // 8x8 in 2x2 blocks of value 40*(block row) + 10*(block col); scale 0.5 gives one pixel a block.
  auto blocks = [](int y, int x) { return Rgb{40 * (y / 2) + 10 * (x / 2), 0, 0}; };
  auto it = OnImage(dir, 8, 8, "3,4,4", {{"min_random_scale", "0.5"}, {"max_random_scale", "0.5"}}, blocks);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_NEAR(At(it->Value(), 0, 0, y, x), 40 * y + 10 * x, 1) << y << "," << x;
}

TEST(Augment, RandomSizeCropIsResizedToTheOutput) {
  TempDir dir;
  auto halves = [](int, int x) { return Rgb{x < 4 ? 0 : 200, 0, 0}; };
  auto it = OnImage(dir, 8, 8, "3,4,4", {{"min_crop_size", "8"}, {"max_crop_size", "8"}}, halves);
  for (int x = 0; x < 4; ++x) EXPECT_EQ(At(it->Value(), 0, 0, 2, x), x < 2 ? 0 : 200);
}

// A fixed start places the random-size crop, as cxxnet's did (it was refused): the 4x4 square at
// row 0, column 4 of the 8x8 image, resized to 4x4 (itself).
TEST(Augment, FixedStartPlacesTheRandomSizeCrop) {
  TempDir dir;
  auto it = OnImage(dir, 8, 8, "3,4,4",
                    {{"min_crop_size", "4"}, {"max_crop_size", "4"}, {"crop_y_start", "0"}, {"crop_x_start", "4"}});
  EXPECT_EQ(At(it->Value(), 0, 0, 0, 0), 4);
  EXPECT_EQ(At(it->Value(), 0, 0, 3, 3), 37);
}

// The crop's side is drawn without rand_crop too (cxxnet's; rand_crop only places it): twenty
// centred crops of sides in [2, 8] of one image, resized to 4x4, are not all alike (each was the
// side-5 crop). Red is 10y + x, so a crop's top-left output pixel tells its side.
TEST(Augment, RandomSizeCropDrawsItsSideWithoutRandCrop) {
  TempDir dir;
  auto it = Copies(dir, 20, 8, 8, "3,4,4", {{"min_crop_size", "2"}, {"max_crop_size", "8"}},
                   [](int y, int x) { return Rgb{10 * y + x, 0, 0}; });
  std::set<float> corners;
  for (index_t i = 0; i < 20; ++i) corners.insert(At(it->Value(), i, 0, 0, 0));
  EXPECT_GE(corners.size(), 3u);
}

// min_scale_ratio / max_scale_ratio, cxxnet's earlier scale: a factor below 1 shrinks the image
// onto a fill_value canvas of its own size (a zoom out), one above 1 enlarges it before the crop.
TEST(Augment, ScaleRatioShrinksOntoTheCanvasOrEnlarges) {
  TempDir dir;
  auto it = OnImage(dir, 8, 8, "3,8,8", {{"min_scale_ratio", "0.5"}, {"max_scale_ratio", "0.5"}, {"fill_value", "9"}},
                    [](int, int) { return Rgb{200, 0, 0}; });
  EXPECT_EQ(At(it->Value(), 0, 0, 0, 0), 9);
  EXPECT_EQ(At(it->Value(), 0, 0, 7, 7), 9);
  EXPECT_EQ(At(it->Value(), 0, 0, 1, 6), 9);
  for (int y = 2; y < 6; ++y)
    for (int x = 2; x < 6; ++x) EXPECT_EQ(At(it->Value(), 0, 0, y, x), 200) << y << "," << x;
  // A 4x4 image in 2x2 blocks of 40 * (block row) + 10 * (block col), doubled to 8x8: the centre
  // 4x4 crop's corners lie in blocks (0, 0) and (1, 1).
  TempDir dir2;
  auto big = OnImage(dir2, 4, 4, "3,4,4", {{"min_scale_ratio", "2"}, {"max_scale_ratio", "2"}},
                     [](int y, int x) { return Rgb{40 * (y / 2) + 10 * (x / 2), 0, 0}; });
  EXPECT_NEAR(At(big->Value(), 0, 0, 0, 0), 0, 1);
  EXPECT_NEAR(At(big->Value(), 0, 0, 3, 3), 50, 1);
}

TEST(Augment, MeanValuesPerChannelRedFirst) {
  TempDir dir;
  auto red = [](int, int) { return Rgb{255, 0, 0}; };
  auto it = OnImage(dir, 2, 2, "3,2,2", {{"mean_r", "100"}, {"mean_g", "10"}, {"mean_b", "1"}}, red);
  EXPECT_EQ(At(it->Value(), 0, 0, 1, 1), 155);  // channel 0 is red, and mean_r applies to it
  EXPECT_EQ(At(it->Value(), 0, 1, 1, 1), -10);
  EXPECT_EQ(At(it->Value(), 0, 2, 1, 1), -1);
  // cxxnet's mean_value = a,b,c: a from channel 0, b from 1, c from 2 (its source named them
  // b,g,r, and subtracted the first from channel 0).
  TempDir dir2;
  auto it2 = OnImage(dir2, 2, 2, "3,2,2", {{"mean_value", "100,10,1"}}, red);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(At(it2->Value(), 0, c, 1, 1), At(it->Value(), 0, c, 1, 1)) << c;
  for (const char* bad : {"1,2", "1,2,3,4", "1,x,3", "1,,3"})
    EXPECT_NE(ErrorOf([&] { TempDir d; OnImage(d, 2, 2, "3,2,2", {{"mean_value", bad}}, red); }).find("mean_value"),
              std::string::npos) << bad;
}

TEST(Augment, DividebyAndScale) {
  TempDir dir;
  auto red = [](int, int) { return Rgb{255, 51, 0}; };
  auto it = OnImage(dir, 2, 2, "3,2,2", {{"mean_r", "0"}, {"divideby", "255"}}, red);
  EXPECT_FLOAT_EQ(At(it->Value(), 0, 0, 0, 0), 1.0f);
  EXPECT_FLOAT_EQ(At(it->Value(), 0, 1, 0, 0), 0.2f);
  TempDir dir2;
  auto it2 = OnImage(dir2, 2, 2, "3,2,2", {{"mean_value", "51"}, {"scale", "0.5"}}, red);
  EXPECT_FLOAT_EQ(At(it2->Value(), 0, 0, 0, 0), 102);  // (255 - 51) * 0.5
  EXPECT_FLOAT_EQ(At(it2->Value(), 0, 1, 0, 0), 0);
}

TEST(Augment, IlluminationShiftsAndContrastScalesEveryPixelAlike) {
  TempDir dir;
  auto it = OnImage(dir, 3, 3, "3,3,3", {{"max_random_illumination", "20"}});
  const float shift = At(it->Value(), 0, 0, 0, 0) - 0;
  EXPECT_NE(shift, 0);
  EXPECT_LE(std::abs(shift), 20);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_FLOAT_EQ(At(it->Value(), 0, 0, y, x), 10 * y + x + shift);
  TempDir dir2;
  auto it2 = OnImage(dir2, 3, 3, "3,3,3", {{"max_random_contrast", "0.5"}});
  const float c = At(it2->Value(), 0, 0, 0, 1);  // pixel value 1
  EXPECT_NE(c, 1);
  EXPECT_GE(c, 0.5);
  EXPECT_LE(c, 1.5);
  EXPECT_FLOAT_EQ(At(it2->Value(), 0, 1, 2, 2), 122 * c);
}

// cxxnet's order, ((x - mean) * contrast + illumination) * scale: the illumination is in pixel
// units (added after divideby = 255, 20 was twenty times the inputs' [0, 1] range).
TEST(Augment, IlluminationIsInPixelUnitsBeforeScale) {
  TempDir dir;
  auto it = OnImage(dir, 3, 3, "3,3,3", {{"max_random_illumination", "20"}, {"divideby", "255"}});
  const float shift = At(it->Value(), 0, 0, 0, 0) * 255;  // pixel value 0
  EXPECT_NE(shift, 0);
  EXPECT_LE(std::abs(shift), 20 * (1 + 1e-6));
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_NEAR(At(it->Value(), 0, 0, y, x), (10 * y + x + shift) / 255, 1e-6);
}

// A gray input has channel 0 only, which takes mean_r: another mean_g or mean_b was dropped
// without a word. The same value in all three (mean_value, or written out) is taken.
TEST(Augment, MeanOfAColourChannelOnAGrayInputIsAnError) {
  for (const char* key : {"mean_g", "mean_b"}) {
    TempDir dir;
    EXPECT_HAS(ErrorOf([&] { OnImage(dir, 3, 3, "1,3,3", {{key, "50"}}); }),
               "differ from mean_r (0), but a gray input_shape (1 channel) has channel 0 only, which takes mean_r");
  }
  TempDir dir, dir2;
  auto it = OnImage(dir, 3, 3, "1,3,3", {{"mean_r", "5"}, {"mean_g", "5"}, {"mean_b", "5"}});
  auto it2 = OnImage(dir2, 3, 3, "1,3,3", {{"mean_value", "5"}});
  EXPECT_EQ(At(it->Value(), 0, 0, 0, 0), At(it2->Value(), 0, 0, 0, 0));
  TempDir dir3;  // mean_r alone (the error's own advice was refused: mean_g and mean_b were 0)
  auto it3 = OnImage(dir3, 3, 3, "1,3,3", {{"mean_r", "5"}});
  EXPECT_EQ(At(it3->Value(), 0, 0, 0, 0), At(it2->Value(), 0, 0, 0, 0));
}

// A fixed rotate turns the images averaged into a computed mean too: the mean of one image,
// subtracted from itself, is 0 everywhere (it was that of the unturned image: up to 180 off).
TEST(Augment, AFixedRotateTurnsTheMeanImagesCrops) {
  // A rotate_list of one angle is such a turn too, and replaces max_rotate_angle's draw.
  for (const KV& turn : {KV{{"rotate", "90"}}, KV{{"rotate_list", "90"}, {"max_rotate_angle", "30"}}}) {
    TempDir dir;
    WritePng(dir / "a.png", 4, 4, [](int y, int x) { return Rgb{40 * y + 10 * x, 0, 0}; });
    WriteText(dir / "l.lst", "0\t0\ta.png\n");
    KV keys = {{"image_list", dir / "l.lst"}, {"image_root", dir.path()}, {"input_shape", "3,4,4"},
               {"batch_size", "1"}, {"image_mean", dir / "mean.bin"}, {"silent", "1"}};
    keys.insert(keys.end(), turn.begin(), turn.end());
    auto it = Make("img", keys);
    ASSERT_TRUE(it->Next());
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_EQ(At(it->Value(), 0, 0, y, x), 0) << turn[0].first << " " << y << "," << x;
  }
}

TEST(Augment, MeanImageIsComputedWrittenThenRead) {
  TempDir dir;
  WritePng(dir / "a.png", 2, 2, [](int y, int x) { return Rgb{10 + y, 20 + x, 30}; });
  WritePng(dir / "b.png", 2, 2, [](int y, int x) { return Rgb{30 + y, 40 + x, 50}; });
  WriteText(dir / "l.lst", "0\t0\ta.png\n1\t1\tb.png\n");
  const KV keys = {{"image_list", dir / "l.lst"}, {"image_root", dir.path()}, {"input_shape", "3,2,2"},
                   {"batch_size", "2"}, {"image_mean", dir / "mean.bin"}, {"silent", "1"}};
  auto it = Make("img", keys);
  const MeanImage m = ReadMeanImage(dir / "mean.bin");
  EXPECT_EQ(m.shape, Shape3(3, 2, 2));
  EXPECT_EQ(m.values, (std::vector<float>{20, 20, 21, 21, 30, 31, 30, 31, 40, 40, 40, 40}));
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(At(it->Value(), 0, 0, 1, 1), -10);
  EXPECT_EQ(At(it->Value(), 1, 2, 0, 1), 10);
  // A second iterator reads the file: change it and see the change.
  MeanImage zero{m.shape, std::vector<float>(12, 0.f)};
  WriteMeanImage(dir / "mean.bin", zero);
  auto again = Make("img", keys);
  ASSERT_TRUE(again->Next());
  EXPECT_EQ(At(again->Value(), 0, 0, 1, 1), 11);
  // A mean image of another shape is refused.
  WriteMeanImage(dir / "mean.bin", MeanImage{Shape3(3, 4, 4), std::vector<float>(48)});
  EXPECT_HAS(ErrorOf([&] { Make("img", keys); }), "the mean image has shape");
  WriteText(dir / "mean.bin", "UMBRAMEA");  // its magic alone: cut short (it read as "not an umbra mean image")
  EXPECT_HAS(ErrorOf([&] { Make("img", keys); }), "is truncated (8 bytes, inside its 24-byte header)");
  // A NaN in the mean made every prediction class 0, with success.
  std::vector<float> nan_at = zero.values;
  nan_at[7] = std::numeric_limits<float>::quiet_NaN();  // channel 1, y 1, x 1
  WriteMeanImage(dir / "mean.bin", MeanImage{m.shape, nan_at});
  EXPECT_HAS(ErrorOf([&] { Make("img", keys); }),
             "mean image '" + (dir / "mean.bin") + "' holds nan at channel 1, y 1, x 1; delete it to recompute");
  // In a folder not made yet (cxxnet's image_mean = models/..., before the first run made
  // models/): the folder is made; where it cannot be, the error names the file and the reason.
  KV in_models = keys;
  for (auto& [k, v] : in_models)
    if (k == "image_mean") v = dir / "models/sub/mean.bin";
  Make("img", in_models);
  EXPECT_EQ(ReadMeanImage(dir / "models/sub/mean.bin").shape, Shape3(3, 2, 2));
  WriteText(dir / "afile", "x");
  EXPECT_HAS(ErrorOf([&] { WriteMeanImage(dir / "afile/mean.bin", zero); }),
             "cannot make the folder '" + (dir / "afile") + "' of mean image '" + (dir / "afile/mean.bin") + "'");
  // A header whose shape the file cannot hold is refused before anything is allocated: 2^32-1
  // cubed (which wraps in 64 bits), 3 x 60000 x 60000 (43 GB), a zero, one value short or over.
  const auto header = [](uint32_t c, uint32_t h, uint32_t w) {
    const uint32_t head[4] = {1, c, h, w};
    return std::string("UMBRAMEA") + std::string(reinterpret_cast<const char*>(head), sizeof(head));
  };
  const std::string body(48, '\0');
  for (const auto& [c, h, w, extra, what] : std::vector<std::tuple<uint32_t, uint32_t, uint32_t, int, const char*>>{
           {~0u, ~0u, ~0u, 0, "truncated or corrupt"}, {3, 60000, 60000, 0, "truncated or corrupt"},
           {0, 2, 2, 0, "corrupt"}, {3, 2, 2, -4, "truncated or corrupt"}, {3, 2, 2, 4, "corrupt: 76 bytes"}}) {
    WriteText(dir / "mean.bin", header(c, h, w) + body.substr(0, size_t(48 + std::min(extra, 0))) +
                                    std::string(size_t(std::max(extra, 0)), '\0'));
    const std::string e = ErrorOf([&] { Make("img", keys); });
    EXPECT_HAS(e, "mean image '" + (dir / "mean.bin") + "' is " + what);
    EXPECT_HAS(e, "header's shape " + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w));
  }
  // Empty, or cut in its magic or its header: said so, not "bad magic".
  for (const auto& [bytes, what] : std::vector<std::pair<std::string, std::string>>{
           {"", "is empty"}, {"UMBRA", "is truncated (5 bytes)"}, {header(3, 2, 2).substr(0, 10),
                                                                   "is truncated (10 bytes, inside its 24-byte header)"},
           {"NOTAMEAN", "is not an umbra mean image (bad magic"}}) {
    WriteText(dir / "mean.bin", bytes);
    EXPECT_HAS(ErrorOf([&] { Make("img", keys); }), "'" + (dir / "mean.bin") + "' " + what);
  }
}

TEST(Augment, MirroredImageMinusItsMeanIsZero) {
  // The mean image is aligned with the unflipped picture: a mirrored row must subtract the mean
  // at the column its pixel came from (a review found the output column used instead).
  TempDir dir;
  WritePng(dir / "a.png", 3, 4, [](int y, int x) { return Rgb{10 * y + x, 50 + 7 * x, 200 - y}; });
  WriteText(dir / "l.lst", "0\t0\ta.png\n");
  auto it = Make("img", {{"image_list", dir / "l.lst"}, {"image_root", dir.path()}, {"input_shape", "3,3,4"},
                         {"batch_size", "1"}, {"image_mean", dir / "mean.bin"}, {"mirror", "1"}, {"silent", "1"}});
  ASSERT_TRUE(it->Next());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_EQ(At(it->Value(), 0, c, y, x), 0) << c << y << x;
}

TEST(Augment, EpochIsReproducibleFromSeedAndEpoch) {
  TempDir dir;
  std::string list;
  for (int i = 0; i < 5; ++i) {
    WritePng(dir / (std::to_string(i) + ".png"), 12, 10, [i](int y, int x) { return Rgb{20 * i + y, 3 * x, 7 * y}; });
    list += std::to_string(i) + "\t" + std::to_string(i) + "\t" + std::to_string(i) + ".png\n";
  }
  WriteText(dir / "l.lst", list);
  const KV keys = {{"image_list", dir / "l.lst"}, {"image_root", dir.path()}, {"input_shape", "3,6,6"},
                   {"batch_size", "2"}, {"shuffle", "1"}, {"seed", "3"}, {"rand_crop", "1"}, {"rand_mirror", "1"},
                   {"max_rotate_angle", "30"}, {"max_shear_ratio", "0.2"}, {"max_aspect_ratio", "0.3"},
                   {"min_random_scale", "0.8"}, {"max_random_scale", "1.2"}, {"max_random_contrast", "0.2"},
                   {"max_random_illumination", "5"}, {"min_crop_size", "5"}, {"max_crop_size", "8"}};
  auto a = Make("img", keys);
  KV one_thread = keys;
  one_thread.push_back({"nthread", "1"});
  auto b = Make("img", one_thread);
  const auto e2 = Epoch(a.get(), 2);
  EXPECT_EQ(e2, Epoch(b.get(), 2));  // same seed and epoch, any thread count
  EXPECT_EQ(e2, Epoch(a.get(), 2));  // and again
  EXPECT_NE(e2, Epoch(b.get(), 3));
  // Through threadbuffer too.
  auto tb = ChainIterator("threadbuffer", CreateIterator("img"));
  for (auto& [k, v] : keys) tb->SetParam(k, v);
  tb->Init();
  EXPECT_EQ(Epoch(tb.get(), 2), e2);
}

TEST(Augment, BadKeysAreRefused) {
  TempDir dir;
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"max_aspect_ratio", "1.5"}}); }), "max_aspect_ratio");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"divideby", "0"}}); }), "divideby must not be 0");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"scale", "0"}}); }), "scale must not be 0");
  // mean_value beside an image_mean was dropped without a word.
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"image_mean", dir / "m.bin"}, {"mean_value", "3"}}); }),
             "image_mean and mean_value (or mean_r/g/b) are both given");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rand_crop", "yes"}}); }), "rand_crop = 'yes' is not an integer");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"crop_y_start", "3"}}); }), "does not fit");
  // Switches are 0 or 1 (2 was taken as 1); a crop start is a pixel or -1 (-5 was the centre).
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rand_mirror", "2"}}); }), "rand_mirror = '2' must be 0 or 1");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"crop_x_start", "-5"}}); }),
             "crop_x_start = '-5' must be a pixel (>= 0) or -1 (the centre)");
  // Not finite as a float (every input went NaN, 0 or 255), or sizes no data set reaches.
  for (const char* v : {"nan", "inf", "1e39"})
    EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"divideby", v}}); }),
               std::string("divideby = '") + v + "' is not a finite float");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"scale", "1e-40"}}); }),
             "scale = '1e-40' is below 1.18e-38, which umbra's CPU arithmetic flushes to 0");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"max_crop_size", "100000"}}); }),
             "max_crop_size = '100000' must be a side in [1, 16384] pixels, or 0 (none)");
  // Values that did something else than written, unsaid: a negative crop size was none, a
  // rotation by -90 none, a fraction of a degree no rotation, a fill value outside a pixel's
  // range that range's end, and a fixed crop start beside a random-size crop nothing.
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"min_crop_size", "-5"}}); }),
             "min_crop_size = '-5' must be a side");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rotate", "-90"}}); }),
             "rotate = '-90' must be an angle in (0, 360] degrees, or 0 or -1 (none); a turn of a degrees clockwise is "
             "360 - a");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rotate_list", "0,90,x"}}); }),
             "rotate_list = 'x' is not a number");
  OnImage(dir, 4, 4, "3,2,2", {{"rotate_list", "0, 90 ,180,"}});  // blanks and a last comma, as cxxnet took them
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rotate_list", ","}}); }),
             "rotate_list = ',': entry 1 is empty (angles in degrees a,b,...)");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rotate_list", "0,,90"}}); }),
             "rotate_list = '0,,90': entry 2 is empty");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"rotate_list", "0,400"}}); }),
             "rotate_list = '0,400': angle 400 is outside [-360, 360] degrees");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"min_img_size", "8"}, {"max_img_size", "6"}}); }),
             "min_img_size 8 > max_img_size 6");
  for (const char* v : {"0.5", "3e9", "-2"})
    EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"max_rotate_angle", v}}); }),
               std::string("max_rotate_angle = '") + v + "' must be a whole number of degrees in [0, 180]");
  for (const char* v : {"1000", "-1"})
    EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"fill_value", v}}); }),
               std::string("fill_value = '") + v + "' must be a pixel value in [0, 255]");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"min_crop_size", "3"}, {"crop_y_start", "2"}}); }),
             "the 3x3 crop (min_crop_size, max_crop_size) at (2, 0) (crop_y_start, crop_x_start) does not fit in the "
             "4x4 image");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"min_scale_ratio", "0.5"}}); }),
             "min_scale_ratio and max_scale_ratio go together (max_scale_ratio is not given)");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"min_scale_ratio", "2"}, {"max_scale_ratio", "1"}}); }),
             "min_scale_ratio 2 > max_scale_ratio 1");
  EXPECT_HAS(ErrorOf([&] {
               OnImage(dir, 4, 4, "3,2,2",
                       {{"min_scale_ratio", "1"}, {"max_scale_ratio", "8"}, {"max_random_scale", "4"}});
             }),
             "max_scale_ratio 8 times max_random_scale 4 scales an image by more than 16");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"max_scale_ratio", "0"}}); }),
             "max_scale_ratio = '0' must be a factor in (0, 16]");
  // The edges stay accepted: -1 (none) and 360 for rotate, 180 for max_rotate_angle, 0 and 255.
  for (const KV& ok : {KV{{"rotate", "-1"}}, KV{{"rotate", "360"}}, KV{{"max_rotate_angle", "180"}},
                       KV{{"fill_value", "0"}}, KV{{"fill_value", "255"}}, KV{{"min_crop_size", "0"}}})
    OnImage(dir, 4, 4, "3,2,2", ok);
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"max_random_scale", "1e6"}}); }),
             "max_random_scale must be at most 16");
  EXPECT_HAS(ErrorOf([&] { OnImage(dir, 4, 4, "3,2,2", {{"max_shear_ratio", "1e30"}}); }),
             "max_shear_ratio at most 1");
}

// A list line naming a folder is an error naming the image and the list line.
TEST(ImgIterAudit, AFolderIsNoImage) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  const std::string list = OneImageList(dir, "sub");
  EXPECT_HAS(ErrorOf([&] {
               Make("img", {{"image_list", list}, {"image_root", dir.path()}, {"input_shape", "3,2,2"},
                            {"batch_size", "1"}});
             }),
             "cannot open image '" + (dir / "sub") + "' (" + list + ":1): not a regular file");
}

}  // namespace
}  // namespace umbra::io::test
#endif  // UMBRA_USE_OPENCV
