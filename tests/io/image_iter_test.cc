// The img and imgrec iterators on PNGs written by the test (lossless, so pixel values are exact):
// RGB order (channel 0 = red), labels, grayscale, padding, the record path through im2rec
// (including resize), labels from image_list, and the errors. Augmentation: augment_test.cc.
#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV
#include <sys/stat.h>

#include "image_test_util.h"
#include "src/io/decode_image.h"
#include "umbra/io/im2rec.h"
#include "umbra/io/record.h"

namespace umbra::io::test {
namespace {

// Three 4x6 images; image i has pixel (y, x) = (r, g, b) = (100 + 10y + x, 20i, 200 - x).
void ThreeImages(const TempDir& dir) {
  std::filesystem::create_directory(dir / "img");
  for (int i = 0; i < 3; ++i)
    WritePng(dir / ("img/" + std::to_string(i) + ".png"), 4, 6,
             [i](int y, int x) { return Rgb{100 + 10 * y + x, 20 * i, 200 - x}; });
  WriteText(dir / "list.lst", "5\t1.5\t0.png\n6\t2.5\t1.png\n7\t3.5\t2.png\n");
}

void CheckThree(DataIterator* it) {
  const auto epoch = Epoch(it, 0);
  ASSERT_EQ(epoch.size(), 2u);
  EXPECT_EQ(epoch[0].label, (std::vector<float>{1.5f, 2.5f}));
  EXPECT_EQ(epoch[1].label, (std::vector<float>{3.5f, 1.5f}));
  EXPECT_EQ(epoch[1].valid, 1);
  EXPECT_EQ(epoch[1].index, (std::vector<uint64_t>{2, 0}));
  it->BeforeFirst();
  ASSERT_TRUE(it->Next());
  const DataBatch& b = it->Value();
  EXPECT_EQ(b.data.shape_, Shape4(2, 3, 4, 6));
  for (int n = 0; n < 2; ++n)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 6; ++x) {
        ASSERT_EQ(At(b, n, 0, y, x), 100 + 10 * y + x) << n << " " << y << " " << x;  // red first
        ASSERT_EQ(At(b, n, 1, y, x), 20 * n);
        ASSERT_EQ(At(b, n, 2, y, x), 200 - x);
      }
}

TEST(ImgIter, ListAndFolderGiveKnownPixelsInRgbOrder) {
  TempDir dir;
  ThreeImages(dir);
  auto it = Make("img", {{"image_list", dir / "list.lst"}, {"image_root", dir / "img"}, {"input_shape", "3,4,6"},
                         {"batch_size", "2"}, {"nthread", "2"}});
  CheckThree(it.get());
}

// cxxnet wrote image_root before each path as it is: a root that names no folder (and does not
// end in '/') is such a prefix, said once; a folder, with or without its '/', is joined.
TEST(ImgIter, ARootThatIsNoFolderIsAPrefix) {
  TempDir dir;
  ThreeImages(dir);
  for (const std::string root : {dir / "img", dir / "img/"}) {
    auto it = Make("img", {{"image_list", dir / "list.lst"}, {"image_root", root}, {"input_shape", "3,4,6"},
                           {"batch_size", "2"}});
    CheckThree(it.get());
  }
  std::filesystem::create_directory(dir / "flat");
  for (int i = 0; i < 3; ++i)
    std::filesystem::copy_file(dir / ("img/" + std::to_string(i) + ".png"), dir / ("flat/im_" + std::to_string(i) + ".png"));
  testing::internal::CaptureStderr();
  auto it = Make("img", {{"image_list", dir / "list.lst"}, {"image_root", dir / "flat/im_"}, {"input_shape", "3,4,6"},
                         {"batch_size", "2"}});
  EXPECT_HAS(testing::internal::GetCapturedStderr(),
             "image_root '" + (dir / "flat/im_") + "' is no folder: it is written before each listed path, as cxxnet "
             "joined them ('" + (dir / "flat/im_0.png") + "')");
  CheckThree(it.get());
}

TEST(ImgIter, GrayscaleAndMultipleLabels) {
  TempDir dir;
  WriteGrayPng(dir / "g.png", 3, 3, [](int y, int x) { return 10 * y + x; });
  WritePng(dir / "c.png", 3, 3, [](int, int) { return Rgb{255, 255, 255}; });  // colour read as gray
  WriteText(dir / "l.lst", "0\t1\t2\tg.png\n1\t3\t4\tc.png\n");
  auto it = Make("img", {{"image_list", dir / "l.lst"}, {"image_root", dir.path()}, {"input_shape", "1,3,3"},
                         {"label_width", "2"}, {"batch_size", "2"}});
  ASSERT_TRUE(it->Next());
  const DataBatch& b = it->Value();
  EXPECT_EQ(b.data.shape_, Shape4(2, 1, 3, 3));
  EXPECT_EQ(Take(b).label, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(At(b, 0, 0, 2, 1), 21);
  EXPECT_EQ(At(b, 1, 0, 1, 1), 255);
}

// An image smaller than input_shape is scaled up for its crop: a note names the first one (a
// list of thumbnails, or the wrong input_shape, trained quietly), once; silent = 1 keeps it quiet.
TEST(ImgIter, SmallImagesAreScaledUpWithOneNote) {
  TempDir dir;
  WriteGrayPng(dir / "s0.png", 2, 3, [](int, int) { return 50; });
  WriteGrayPng(dir / "s1.png", 2, 3, [](int, int) { return 90; });
  WriteGrayPng(dir / "big.png", 4, 4, [](int, int) { return 7; });
  WriteText(dir / "s.lst", "0\t0\tbig.png\n1\t0\ts0.png\n2\t0\ts1.png\n");
  const auto epoch_stderr = [&](const std::string& silent) {
    testing::internal::CaptureStderr();
    auto it = Make("img", {{"image_list", dir / "s.lst"}, {"image_root", dir.path()}, {"input_shape", "1,4,4"},
                           {"batch_size", "3"}, {"nthread", "1"}, {"silent", silent}});
    EXPECT_TRUE(it->Next());
    EXPECT_EQ(At(it->Value(), 1, 0, 3, 3), 50);  // the whole 4x4 crop of the scaled-up image
    EXPECT_EQ(At(it->Value(), 2, 0, 0, 0), 90);
    return testing::internal::GetCapturedStderr();
  };
  const std::string note = epoch_stderr("0");
  EXPECT_HAS(note, "image '" + (dir / "s0.png") + "' (" + (dir / "s.lst") + ":2) is 2x3, smaller than input_shape's "
             "4x4: it is scaled up to fit, as is every smaller image after it (noted once)");
  EXPECT_EQ(note.find("s1.png"), std::string::npos) << note;
  EXPECT_EQ(epoch_stderr("1"), "");
}

TEST(ImgIter, Errors) {
  TempDir dir;
  ThreeImages(dir);
  auto make = [&](const std::string& list, const std::string& shape) {
    return Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", shape}, {"batch_size", "2"}});
  };
  EXPECT_HAS(ErrorOf([&] { Make("img", {{"image_list", dir / "list.lst"}, {"batch_size", "2"}}); }), "needs input_shape");
  EXPECT_HAS(ErrorOf([&] { make(dir / "list.lst", "2,4,6"); }), "1 (gray) or 3 (RGB) channels");
  WriteText(dir / "img/junk.png", "not a png");
  WriteText(dir / "junk.lst", "0\t1\t0.png\n1\t1\tjunk.png\n");
  auto it = make(dir / "junk.lst", "3,4,6");
  EXPECT_HAS(ErrorOf([&] { it->Next(); }),
             "cannot decode image '" + (dir / "img/junk.png") + "' (" + (dir / "junk.lst") + ":2)");
  WriteText(dir / "gone.lst", "0\t1\tgone.png\n");
  // Every listed file is looked at when the iterator starts (it failed at its batch, rounds in).
  EXPECT_HAS(ErrorOf([&] { make(dir / "gone.lst", "3,4,6"); }), "cannot open image '" + (dir / "img/gone.png") + "'");
  WriteText(dir / "gone3.lst", "0\t1\t0.png\n1\t1\tgone.png\n2\t1\tx.png\n3\t1\ty.png\n");
  EXPECT_HAS(ErrorOf([&] { make(dir / "gone3.lst", "3,4,6"); }),
             "cannot open image '" + (dir / "img/gone.png") + "' (" + (dir / "gone3.lst") +
                 ":2): no such file (and 2 more of the 4 listed images cannot be opened)");
  EXPECT_HAS(ErrorOf([&] { make(dir / "nolist.lst", "3,4,6"); }), "cannot open image list");
  // An absolute path in the list is not put under image_root (it was: "root//abs/path").
  WriteText(dir / "abs.lst", "0\t1\t" + (dir / "img/0.png") + "\n1\t1\t1.png\n");
  auto it4 = make(dir / "abs.lst", "3,4,6");
  EXPECT_TRUE(it4->Next());
  // Named pipes hung the run in open(): a list, or an image the list names, that is one.
  ASSERT_EQ(mkfifo((dir / "pipe.lst").c_str(), 0600), 0);
  ASSERT_EQ(mkfifo((dir / "img/pipe.png").c_str(), 0600), 0);
  EXPECT_HAS(ErrorOf([&] { make(dir / "pipe.lst", "3,4,6"); }),
             "cannot open image list '" + (dir / "pipe.lst") + "': not a regular file");
  WriteText(dir / "topipe.lst", "0\t1\tpipe.png\n");
  EXPECT_HAS(ErrorOf([&] { make(dir / "topipe.lst", "3,4,6"); }),
             "cannot open image '" + (dir / "img/pipe.png") + "' (" + (dir / "topipe.lst") + ":1): not a regular file");
}

TEST(RecIter, Im2RecThenImgrecGivesTheSamePixels) {
  TempDir dir;
  ThreeImages(dir);
  std::string args[] = {"im2rec", dir / "list.lst", dir / "img", dir / "all.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  ASSERT_EQ(Im2RecMain(4, argv), 0);
  auto it = Make("imgrec", {{"image_rec", dir / "all.rec"}, {"input_shape", "3,4,6"}, {"batch_size", "2"}});
  CheckThree(it.get());
  // The records' label count against label_width, when the iterator starts (it was met as the
  // metric's label width, naming neither).
  EXPECT_HAS(ErrorOf([&] {
               Make("imgrec", {{"image_rec", dir / "all.rec"}, {"input_shape", "3,4,6"}, {"batch_size", "2"},
                               {"label_width", "2"}});
             }),
             "record 0 of '" + (dir / "all.rec") + "' (offset 0) holds 1 label(s), but label_width = 2; give "
             "label_width = 1");
  // cxxnet's names: imgbin and image_bin; labels from an image_list.
  WriteText(dir / "other.lst", "5\t9\tx\n6\t8\tx\n7\t7\tx\n");
  auto bin = Make("imgbin", {{"image_bin", dir / "all.rec"}, {"image_list", dir / "other.lst"},
                             {"input_shape", "3,4,6"}, {"batch_size", "3"}});
  ASSERT_TRUE(bin->Next());
  EXPECT_EQ(Take(bin->Value()).label, (std::vector<float>{9, 8, 7}));
  // Found by index, as cxxnet's: another order, and more lines than records, are fine.
  WriteText(dir / "skew.lst", "7\t7\tx\n9\t0\tx\n5\t9\tx\n6\t8\tx\n");
  auto skew = Make("imgrec", {{"image_rec", dir / "all.rec"}, {"image_list", dir / "skew.lst"},
                              {"input_shape", "3,4,6"}, {"batch_size", "3"}});
  ASSERT_TRUE(skew->Next());
  EXPECT_EQ(Take(skew->Value()).label, (std::vector<float>{9, 8, 7}));
  // A list of index and label alone relabels the records (cxxnet's imgrec never read a path).
  WriteText(dir / "nopath.lst", "5\t1\n6 2\n7\t3\tx\n");
  auto relabel = Make("imgrec", {{"image_rec", dir / "all.rec"}, {"image_list", dir / "nopath.lst"},
                                 {"input_shape", "3,4,6"}, {"batch_size", "3"}});
  ASSERT_TRUE(relabel->Next());
  EXPECT_EQ(Take(relabel->Value()).label, (std::vector<float>{1, 2, 3}));
  // An error about a relabelled record's label names the list line it came from.
  EXPECT_HAS(relabel->Locate(1), "record 1 of '" + (dir / "all.rec") + "' (offset ");
  EXPECT_HAS(relabel->Locate(1), "), its label from " + (dir / "nopath.lst") + ":2");
  WriteText(dir / "wide.lst", "5\t1\tx\n");  // one label and a path, not two labels
  EXPECT_HAS(ErrorOf([&] {
               Make("imgrec", {{"image_rec", dir / "all.rec"}, {"image_list", dir / "wide.lst"},
                               {"input_shape", "3,4,6"}, {"batch_size", "3"}, {"label_width", "2"}});
             }),
             "wide.lst:1: 1 label(s), expected label_width = 2");
  WriteText(dir / "bare.lst", "5\n");
  EXPECT_HAS(ErrorOf([&] {
               Make("imgrec", {{"image_rec", dir / "all.rec"}, {"image_list", dir / "bare.lst"},
                               {"input_shape", "3,4,6"}, {"batch_size", "3"}});
             }),
             "bare.lst:1: expected 'index <TAB> label(s) <TAB> path' or 'index <TAB> label(s)' (label_width = 1), "
             "got 1 field(s)");
  WriteText(dir / "short.lst", "5\t9\tx\n7\t7\tx\n");
  // Said at Init (it was at the record's first read, epochs into a run).
  const std::string missing = ErrorOf([&] {
    Make("imgrec", {{"image_rec", dir / "all.rec"}, {"image_list", dir / "short.lst"}, {"input_shape", "3,4,6"},
                    {"batch_size", "3"}});
  });
  EXPECT_HAS(missing, "record 1 of '" + (dir / "all.rec") + "' (offset ");
  EXPECT_HAS(missing, "has index 6, which image list '" + (dir / "short.lst") + "' does not hold");
  WriteText(dir / "twice.lst", "5\t9\tx\n6\t8\tx\n5\t7\tx\n");
  EXPECT_HAS(ErrorOf([&] {
               Make("imgrec", {{"image_rec", dir / "all.rec"}, {"image_list", dir / "twice.lst"},
                               {"input_shape", "3,4,6"}, {"batch_size", "3"}});
             }),
             "twice.lst:3: index 5 again (line 1 has it)");
  // Records that share an index (a list of zeros packed): im2rec notes it, and an imgrec block
  // relabelling them by index refuses them (they took its one label, unsaid).
  WriteText(dir / "dup.lst", "0\t0\t0.png\n0\t1\t1.png\n");
  std::string dargs[] = {"im2rec", dir / "dup.lst", dir / "img", dir / "dup.rec"};
  char* dargv[] = {dargs[0].data(), dargs[1].data(), dargs[2].data(), dargs[3].data()};
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(Im2RecMain(4, dargv), 0);
  EXPECT_HAS(::testing::internal::GetCapturedStderr(),
             "note: im2rec: 1 list line(s) repeat an earlier index (the first: " + (dir / "dup.lst") +
                 ":2 repeats index 0 of line 1)");
  WriteText(dir / "zero.lst", "0\t3\n");
  const std::string shared = ErrorOf([&] {
    Make("imgrec", {{"image_rec", dir / "dup.rec"}, {"image_list", dir / "zero.lst"}, {"input_shape", "3,4,6"},
                    {"batch_size", "2"}});
  });
  EXPECT_HAS(shared, "record 1 of '" + (dir / "dup.rec") + "' (offset ");
  EXPECT_HAS(shared, "has index 0, as record 0 has: image_list '" + (dir / "zero.lst") +
                         "' would give both its one label (line 1)");
  // Without a list the records' own labels are read: shared indices are no matter.
  auto own = Make("imgrec", {{"image_rec", dir / "dup.rec"}, {"input_shape", "3,4,6"}, {"batch_size", "2"}});
  ASSERT_TRUE(own->Next());
  EXPECT_EQ(Take(own->Value()).label, (std::vector<float>{0, 1}));
}

// A .rec of cxxnet's or mxnet's im2rec (dmlc-core's RecordIO) is read as it is.
TEST(RecIter, ReadsCxxnetRecordIO) {
  TempDir dir;
  ThreeImages(dir);
  std::string rec;
  for (int i = 0; i < 3; ++i)
    rec += DmlcImage(uint64_t(5 + i), 1.5f + float(i), {}, ReadBytes(dir / ("img/" + std::to_string(i) + ".png")));
  WriteText(dir / "cxxnet.rec", rec);
  auto it = Make("imgrec", {{"image_rec", dir / "cxxnet.rec"}, {"input_shape", "3,4,6"}, {"batch_size", "2"}});
  CheckThree(it.get());
}

TEST(RecIter, TruncatedRecordFileFailsAtInit) {
  TempDir dir;
  ThreeImages(dir);
  std::string args[] = {"im2rec", dir / "list.lst", dir / "img", dir / "all.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  ASSERT_EQ(Im2RecMain(4, argv), 0);
  std::filesystem::resize_file(dir / "all.rec", std::filesystem::file_size(dir / "all.rec") - 10);
  EXPECT_HAS(ErrorOf([&] {
               Make("imgrec", {{"image_rec", dir / "all.rec"}, {"input_shape", "3,4,6"}, {"batch_size", "2"}});
             }),
             "record file '" + (dir / "all.rec") + "' is truncated at offset");
}

// An empty record file with image_mean: the mean over no instances was written as a file of
// NaNs, and the error then blamed that file.
TEST(RecIter, EmptyRecordFileWithAMeanWritesNoMean) {
  TempDir dir;
  {
    RecordWriter w(dir / "empty.rec");  // its end record alone
    w.Close();
  }
  EXPECT_HAS(ErrorOf([&] {
               Make("imgrec", {{"image_rec", dir / "empty.rec"}, {"image_mean", dir / "mean.bin"},
                               {"input_shape", "3,4,6"}, {"batch_size", "2"}});
             }),
             "holds no instances");
  EXPECT_FALSE(std::filesystem::exists(dir / "mean.bin"));
}

// A fixed crop that one image of the list cannot hold names that image and the keys.
TEST(ImgIter, ACropThatDoesNotFitNamesTheImage) {
  TempDir dir;
  ThreeImages(dir);
  WritePng(dir / "img/wide.png", 2, 12, [](int, int) { return Rgb{1, 2, 3}; });  // scaled up to 4x24
  WriteText(dir / "crop.lst", "0\t1\t0.png\n1\t1\twide.png\n");
  auto it = Make("img", {{"image_list", dir / "crop.lst"}, {"image_root", dir / "img"}, {"input_shape", "3,4,4"},
                         {"batch_size", "2"}, {"crop_x_start", "2"}, {"crop_y_start", "0"}});
  EXPECT_TRUE(it->Next());  // 4x6 and 4x24: both hold a 4x4 crop at column 2
  WriteText(dir / "crop2.lst", "0\t1\twide.png\n1\t1\t0.png\n");
  auto it2 = Make("img", {{"image_list", dir / "crop2.lst"}, {"image_root", dir / "img"}, {"input_shape", "3,4,4"},
                          {"batch_size", "2"}, {"crop_x_start", "3"}, {"crop_y_start", "0"}});
  EXPECT_HAS(ErrorOf([&] { it2->Next(); }),
             "the 4x4 crop at (0, 3) (crop_y_start, crop_x_start) does not fit in the 4x6 image: image '" +
                 (dir / "img/0.png") + "' (" + (dir / "crop2.lst") + ":2)");
}

TEST(RecIter, Im2RecResizesTheShorterSide) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  WritePng(dir / "img/big.png", 20, 40, [](int, int x) { return Rgb{x < 20 ? 0 : 250, 50, 50}; });
  WritePng(dir / "img/small.png", 4, 2, [](int, int) { return Rgb{10, 20, 30}; });
  WriteText(dir / "l.lst", "0\t0\tbig.png\n1\t1\tsmall.png\n");
  std::string args[] = {"im2rec", dir / "l.lst", dir / "img", dir / "r.rec", "resize=10"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data()};
  ASSERT_EQ(Im2RecMain(5, argv), 0);
  RecordReader r(dir / "r.rec");
  const std::string p0 = r.Read(0).payload, p1 = r.Read(1).payload;
  const cv::Mat a = Codecs().decode(cv::Mat(1, int(p0.size()), CV_8U, const_cast<char*>(p0.data())), cv::IMREAD_COLOR);
  const cv::Mat b = Codecs().decode(cv::Mat(1, int(p1.size()), CV_8U, const_cast<char*>(p1.data())), cv::IMREAD_COLOR);
  EXPECT_EQ(a.size(), cv::Size(20, 10));  // width, height
  EXPECT_EQ(b.size(), cv::Size(10, 20));
  EXPECT_EQ(a.at<cv::Vec3b>(5, 2), cv::Vec3b(50, 50, 0));   // BGR, still PNG: exact away from the edge
  EXPECT_EQ(a.at<cv::Vec3b>(5, 17), cv::Vec3b(50, 50, 250));
}

// A 16-bit image resized stays 16 bits (re-encoded as JPEG it was written as 8 bits of its low
// byte: 30000 read as white), and reads as its unresized self does; a floating-point image is
// refused (a PFM's 0.46 was packed, then read as 0).
TEST(RecIter, Im2RecResizeKeepsSixteenBitsAndRefusesFloats) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  std::string pgm = "P5\n4 4\n65535\n";
  for (int i = 0; i < 16; ++i) pgm += std::string("\x75\x30", 2);  // 30000, big-endian
  WriteText(dir / "img/d16.pgm", pgm);
  const std::string list = OneImageList(dir, "d16.pgm");
  for (const char* resize : {"resize=0", "resize=8"}) {
    SCOPED_TRACE(resize);
    std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec", resize};
    char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data()};
    std::filesystem::remove(dir / "r.rec");
    ASSERT_EQ(Im2RecMain(5, argv), 0);
    auto it = Make("imgrec", {{"image_rec", dir / "r.rec"}, {"input_shape", "1,4,4"}, {"batch_size", "1"}});
    ASSERT_TRUE(it->Next());
    EXPECT_NEAR(it->Value().data.dptr_[0], 30000.0 / 256, 1.0);
  }
  WriteText(dir / "img/f.pfm", std::string("Pf\n1 1\n-1.0\n") + std::string("\x0a\xd7\xeb\x3e", 4));  // 0.46f
  const std::string flist = OneImageList(dir, "f.pfm");
  std::string args[] = {"im2rec", flist, dir / "img", dir / "f.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }), "holds PFM's floating-point pixels");
  EXPECT_HAS(ErrorOf([&] {
               auto img = Make("img", {{"image_list", flist}, {"image_root", dir / "img"}, {"input_shape", "1,1,1"},
                                       {"batch_size", "1"}});
               img->Next();
             }),
             "holds PFM's floating-point pixels");
  // A TIFF may hold any depth: one of floats is decoded to be seen, with or without resize.
  std::vector<uint8_t> tif;
  if (Codecs().encode(".tiff", cv::Mat(2, 2, CV_32F, cv::Scalar(0.46)), tif, {})) {
    WriteText(dir / "img/f.tif", std::string(tif.begin(), tif.end()));
    const std::string tlist = OneImageList(dir, "f.tif");
    for (const char* resize : {"resize=0", "resize=4"}) {
      SCOPED_TRACE(resize);
      std::string targs[] = {"im2rec", tlist, dir / "img", dir / "t.rec", resize};
      char* targv[] = {targs[0].data(), targs[1].data(), targs[2].data(), targs[3].data(), targs[4].data()};
      EXPECT_HAS(ErrorOf([&] { Im2RecMain(5, targv); }), "holds 32-bit floating-point pixels");
    }
  }
}

// A PNM's maxval is full intensity: OpenCV does not scale the binary forms' pixels by it (a 10-bit
// PGM's white came out as 3, maxval 100's as 100; it scales the plain P2's itself), the readers
// do, from the file and through im2rec (packed as they are, or decoded and re-encoded by resize).
// A signed TIFF was decoded into other numbers (-500 as 254), unsaid: refused, as in im2rec.
TEST(ImgIter, PnmMaxvalScalesAndSignedTiffsAreRefused) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  const std::string pam = "P7\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nTUPLTYPE GRAYSCALE\nMAXVAL ";
  // Each image's two pixels are white and a quarter of it (of 1023: 256; of 100: 25), whose
  // 255 * v / maxval rounds to 64 (the plain P2 truncates: 63); the PPM's second pixel is (40,
  // 10, 1) of 100: red 102, blue 3.
  const std::vector<std::tuple<std::string, std::string, int>> images = {
      {"p10.pgm", "P5\n2 1\n1023\n" + std::string("\x03\xff\x01\x00", 4), 64},
      {"p100.pgm", "P5\n2 1\n100\n" + std::string("\x64\x19", 2), 64},
      {"a100.pgm", "P2\n2 1\n100\n100 25\n", 63},
      {"a1k.pgm", "P2\n2 1\n1023\n1023 256\n", 64},  // above 255 OpenCV scales no plain PNM
      {"c100.ppm", "P6\n2 1\n100\n" + std::string("\x64\x19\x00\x28\x0a\x01", 6), 102},
      {"m100.pam", pam + "100\nENDHDR\n" + std::string("\x64\x19", 2), 64},
      {"m1k.pam", pam + "1023\nENDHDR\n" + std::string("\x03\xff\x01\x00", 4), 64}};
  for (const auto& [name, bytes, second] : images) {
    SCOPED_TRACE(name);
    WriteText(dir / ("img/" + name), bytes);
    const std::string list = OneImageList(dir, name);
    const bool colour = name.ends_with(".ppm");
    const std::string shape = colour ? "3,1,2" : "1,1,2";
    const auto check = [&](DataIterator* it) {
      ASSERT_TRUE(it->Next());
      const DataBatch& b = it->Value();
      EXPECT_EQ(At(b, 0, 0, 0, 0), 255);
      EXPECT_EQ(At(b, 0, 0, 0, 1), second);
      if (colour) EXPECT_EQ(At(b, 0, 2, 0, 1), 3);
    };
    auto img = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", shape},
                            {"batch_size", "1"}});
    check(img.get());
    // resize = 1, the size they have, re-encodes them as PNG, lossless: a PNM is (its 8-bit
    // forms were written as JPEG, lossy, and not compared here).
    for (const char* resize : {"resize=0", "resize=1"}) {
      SCOPED_TRACE(resize);
      std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec", resize};
      char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data()};
      std::filesystem::remove(dir / "r.rec");
      ASSERT_EQ(Im2RecMain(5, argv), 0);
      auto rec = Make("imgrec", {{"image_rec", dir / "r.rec"}, {"input_shape", shape}, {"batch_size", "1"}});
      check(rec.get());
    }
  }
  for (const auto& [type, kind] : std::vector<std::pair<int, std::string>>{{CV_16S, "16-bit signed"},
                                                                           {CV_8S, "8-bit signed"}}) {
    std::vector<uint8_t> tif;
    cv::Mat m(2, 2, type, cv::Scalar(-100));
    if (!Codecs().encode(".tiff", m, tif, {})) continue;  // OpenCV without that TIFF depth
    SCOPED_TRACE(kind);
    WriteText(dir / "img/s.tif", std::string(tif.begin(), tif.end()));
    const std::string list = OneImageList(dir, "s.tif");
    const std::string error = ErrorOf([&] {
      auto it = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "1,2,2"},
                             {"batch_size", "1"}});
      it->Next();
    });
    EXPECT_HAS(error, "s.tif");
    EXPECT_HAS(error, "holds " + kind + " pixels, which the image iterators do not read");
    std::string args[] = {"im2rec", list, dir / "img", dir / "s.rec"};
    char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
    EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }), "holds " + kind + " pixels");
  }
  {  // quality with resize where every image stays PNG (a lossless source) does nothing: a note.
    const std::string list = OneImageList(dir, "p100.pgm");
    std::string args[] = {"im2rec", list, dir / "img", dir / "qq.rec", "resize=1", "quality=50"};
    char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data(), args[5].data()};
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(Im2RecMain(6, argv), 0);
    EXPECT_HAS(::testing::internal::GetCapturedStderr(),
               "note: im2rec: quality=50 did nothing: resize re-encoded every image as PNG");
  }
  // A sample above maxval (which Netpbm forbids) was clamped unsaid, by OpenCV in a plain P2 and
  // by the scaling in a binary P5: refused, naming the image and the pixel.
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"over.pgm", "P2\n2 1\n100\n100 130\n"}, {"over5.pgm", "P5\n2 1\n100\n" + std::string("\x64\x82", 2)}}) {
    SCOPED_TRACE(name);
    WriteText(dir / ("img/" + name), bytes);
    const std::string list = OneImageList(dir, name);
    const std::string problem = "' (" + list + ":1): its P" + bytes.substr(1, 1) +
                                " pixel at row 1, column 2 has a sample of 130, above its maxval 100";
    EXPECT_HAS(ErrorOf([&] {
      auto it = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "1,1,2"},
                             {"batch_size", "1"}});
      it->Next();
    }), "cannot decode image '" + (dir / ("img/" + name)) + problem);
    std::string args[] = {"im2rec", list, dir / "img", dir / "o.rec"};
    char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
    EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }), "im2rec: cannot read image '" + (dir / ("img/" + name)) + problem);
  }
}

// A photo whose EXIF orientation says "shown turned 90 degrees clockwise" reaches the net
// upright both from its own file and from a record file that im2rec resized (re-encoded without
// the EXIF): stored 8 rows x 16 columns, left half red and right half blue, it is shown 16 rows
// x 8 columns, red above blue.
TEST(RecIter, Im2RecResizeTurnsPhotosAsTheIteratorsDo) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  WriteJpegWithOrientation(dir / "img/photo.jpg", 8, 16, [](int, int x) { return x < 8 ? Rgb{250, 0, 0} : Rgb{0, 0, 250}; },
                           6);
  const std::string list = OneImageList(dir, "photo.jpg");
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec", "resize=8"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data()};
  ASSERT_EQ(Im2RecMain(5, argv), 0);
  using KV = std::vector<std::pair<std::string, std::string>>;
  const KV common = {{"input_shape", "3,16,8"}, {"batch_size", "1"}};
  KV img = common, rec = common;
  img.insert(img.end(), {{"image_list", list}, {"image_root", dir / "img"}});
  rec.push_back({"image_rec", dir / "r.rec"});
  for (const KV& keys : {img, rec}) {
    SCOPED_TRACE(keys.back().first);
    auto it = Make(keys.back().first == "image_rec" ? "imgrec" : "img", keys);
    ASSERT_TRUE(it->Next());
    for (int x = 0; x < 8; ++x) {
      EXPECT_GT(At(it->Value(), 0, 0, 3, x), 200) << x;  // red above
      EXPECT_LT(At(it->Value(), 0, 2, 3, x), 50) << x;
      EXPECT_LT(At(it->Value(), 0, 0, 12, x), 50) << x;  // blue below
      EXPECT_GT(At(it->Value(), 0, 2, 12, x), 200) << x;
    }
  }
}

// OpenCV's exceptions in an error line: the check that failed and where, not OpenCV's version
// and source path.
TEST(ImgIter, OpenCvExceptionsInWords) {
  const cv::Exception e(-215, "pixels <= CV_IO_MAX_IMAGE_PIXELS", "validateInputImageSize",
                        "./modules/imgcodecs/src/loadsave.cpp", 77);
  EXPECT_EQ(OpenCvWords(e), "OpenCV refused it (pixels <= CV_IO_MAX_IMAGE_PIXELS in validateInputImageSize)");
  EXPECT_EQ(OpenCvWords(cv::Exception(-4, "", "", "f.cpp", 1)), cv::Exception(-4, "", "", "f.cpp", 1).what());
}

// A header claiming more pixels than OpenCV takes made it throw rather than return an empty
// image (its assertion text in the error): the PNG header check names the image and why, from
// the iterator and from im2rec alike.
TEST(ImgIter, ImagesOpenCVWouldThrowOnAreNamed) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  // A whole PNG (its chunks pass CheckImageBytes) whose IHDR says 70000 x 70000, grey, 8 bits.
  const std::string ihdr = std::string("\0\1\x11\x70\0\1\x11\x70\x08\0\0\0\0", 13);
  WriteText(dir / "img/huge.png", std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) +
                                      PngChunk("IDAT", "pixels") + PngChunk("IEND", ""));
  const std::string list = OneImageList(dir, "huge.png");
  auto it = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "1,4,4"}, {"batch_size", "1"}});
  EXPECT_HAS(ErrorOf([&] { it->Next(); }), "cannot decode image '" + (dir / "img/huge.png") + "' (" + list +
                                               ":1): its IHDR chunk gives 70000x70000, more pixels than OpenCV decodes");
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec", "resize=8"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(5, argv); }), "im2rec: cannot read image '" + (dir / "img/huge.png") +
                                                        "' (" + list + ":1): its IHDR chunk gives 70000x70000");
}

// im2rec decodes each image but a JPEG once: a file with an image format's signature that OpenCV
// cannot decode (here a GIF of six bytes) was packed, and failed only in training, naming a
// record.
TEST(ImgIter, Im2RecRefusesImagesThatDoNotDecode) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  WriteText(dir / "img/six.gif", "GIF89a");
  const std::string list = OneImageList(dir, "six.gif");
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }),
             "im2rec: cannot decode image '" + (dir / "img/six.gif") + "' (" + list + ":1)");
  EXPECT_FALSE(std::filesystem::exists(dir / "r.rec"));
  // A record of cxxnet's or mxnet's holding a header and no image bytes: said so (OpenCV's
  // assertion "!buf.empty() in imdecode_" reached the error line).
  WriteText(dir / "e.rec", DmlcImage(1, 0, {}, ""));
  auto it = Make("imgrec", {{"image_rec", dir / "e.rec"}, {"input_shape", "1,4,4"}, {"batch_size", "1"}});
  EXPECT_HAS(ErrorOf([&] { it->Next(); }), "e.rec' (offset 0): it holds no bytes");
}

// A PNG whose colour profile libpng warns about ("iCCP: too short") decodes without a word on
// stderr and with the pixels of the same PNG without it (OpenCV does not apply profiles); a
// truncated PNG is one error naming the image and what is wrong, with no libpng line before
// it, from the iterator and from im2rec, which refuses it when packing.
TEST(ImgIter, PngProfilesQuietTruncatedPngsNamed) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  WritePng(dir / "img/plain.png", 4, 6, [](int y, int x) { return Rgb{10 * y, 20 * x, 7}; });
  const std::string png = ReadBytes(dir / "img/plain.png");
  const std::string zeros(200, '\0');
  uLongf n = compressBound(uLong(zeros.size()));
  std::string profile(n, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(profile.data()), &n, reinterpret_cast<const Bytef*>(zeros.data()),
                     uLong(zeros.size())), Z_OK);
  profile.resize(n);
  WriteText(dir / "img/icc.png", AfterHeader(png, PngChunk("iCCP", std::string("x\0\0", 3) + profile)));
  WriteText(dir / "img/cut.png", png.substr(0, png.size() / 2));
  WriteText(dir / "two.lst", "0\t1\ticc.png\n1\t1\tplain.png\n");
  auto it = Make("img", {{"image_list", dir / "two.lst"}, {"image_root", dir / "img"}, {"input_shape", "3,4,6"},
                         {"batch_size", "2"}});
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(it->Next());
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(said.find("libpng"), std::string::npos) << said;
  const DataBatch& b = it->Value();
  const index_t d = b.data.shape_.ProdShape(1, 4);
  EXPECT_TRUE(std::equal(b.data.dptr_, b.data.dptr_ + d, b.data.dptr_ + d));

  const std::string list = OneImageList(dir, "cut.png");
  auto cut = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "3,4,6"}, {"batch_size", "1"}});
  ::testing::internal::CaptureStderr();
  EXPECT_HAS(ErrorOf([&] { cut->Next(); }),
             "cannot decode image '" + (dir / "img/cut.png") + "' (" + list + ":1): it ends inside its IDAT chunk");
  const std::string cut_said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(cut_said.find("libpng"), std::string::npos) << cut_said;
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }),
             "im2rec: cannot read image '" + (dir / "img/cut.png") + "' (" + list + ":1): it ends inside its IDAT chunk");
  // Whole chunks, but pixel data short of the image (a 3x2 RGB image's rows are 20 bytes; 19
  // given): libpng's "Not enough image data" reached stderr, and the error gave no reason.
  const std::string rows(19, '\0');
  uLongf zn = compressBound(uLong(rows.size()));
  std::string z(zn, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &zn, reinterpret_cast<const Bytef*>(rows.data()),
                     uLong(rows.size())), Z_OK);
  z.resize(zn);
  const std::string ihdr("\0\0\0\x03\0\0\0\x02\x08\x02\0\0\0", 13);  // 3x2, 8-bit RGB
  WriteText(dir / "img/short.png", std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IDAT", z) +
                                       PngChunk("IEND", ""));
  const std::string short_list = OneImageList(dir, "short.png");
  auto short_it = Make("img", {{"image_list", short_list}, {"image_root", dir / "img"}, {"input_shape", "3,2,3"},
                               {"batch_size", "1"}});
  ::testing::internal::CaptureStderr();
  EXPECT_HAS(ErrorOf([&] { short_it->Next(); }),
             "cannot decode image '" + (dir / "img/short.png") + "' (" + short_list +
                 ":1): its pixel data holds 19 bytes of rows, fewer than its image needs (20)");
  // Again, as a threadbuffer's producer decodes it after a restart: the deep walk was marked
  // done at the first decode, which failed, and the second said no reason.
  short_it->BeforeFirst();
  EXPECT_HAS(ErrorOf([&] { short_it->Next(); }), "fewer than its image needs (20)");
  const std::string short_said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(short_said.find("libpng"), std::string::npos) << short_said;
  // A file past the machine's memory (a sparse 1 TiB one) is refused by its size, naming it: it
  // was read whole, and ended in "std::bad_alloc".
  {
    std::ofstream(dir / "img/huge.png");
    std::filesystem::resize_file(dir / "img/huge.png", uintmax_t(1) << 40);
    const std::string huge_list = dir / "huge.lst";  // not one.lst: im2rec reads short.png's below
    WriteText(huge_list, "0\t0\thuge.png\n");
    auto huge = Make("img", {{"image_list", huge_list}, {"image_root", dir / "img"}, {"input_shape", "3,2,3"},
                             {"batch_size", "1"}});
    EXPECT_HAS(ErrorOf([&] { huge->Next(); }), "cannot read image '" + (dir / "img/huge.png") + "' (" + huge_list +
                                                   ":1) (1099511627776 bytes): out of host memory");
    std::filesystem::remove(dir / "img/huge.png");
  }
  std::string sargs[] = {"im2rec", short_list, dir / "img", dir / "s.rec"};
  char* sargv[] = {sargs[0].data(), sargs[1].data(), sargs[2].data(), sargs[3].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, sargv); }), "fewer than its image needs (20)");
}

// Where OpenCV fails on a file the walks of image_bytes.h do not cover (a Radiance HDR cut short),
// it prints its own line on std::cerr: that line becomes part of umbra's one error (im2rec's
// resize decodes it; the iterator refuses a floating-point format before decoding), and nothing
// else reaches stderr. std::cerr works as before afterwards.
TEST(ImgIter, OpenCVsOwnLinesGoIntoTheError) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  WriteText(dir / "img/cut.hdr", "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 4 +X 4\n" + std::string(10, '\x40'));
  const std::string list = OneImageList(dir, "cut.hdr");
  auto it = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "3,4,4"}, {"batch_size", "1"}});
  ::testing::internal::CaptureStderr();
  EXPECT_HAS(ErrorOf([&] { it->Next(); }),
             "cannot decode image '" + (dir / "img/cut.hdr") + "' (" + list + ":1): it holds Radiance HDR's floating-point");
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec", "resize=8"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(5, argv); }),
             "im2rec: cannot decode image '" + (dir / "img/cut.hdr") + "' (" + list + ":1); OpenCV: can't read data: ");
  std::cerr << "after\n";
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "after\n");
}

// A JPEG whole in structure whose scan data is corrupt: OpenCV decodes it into garbage (libjpeg's
// "Corrupt JPEG data" on stderr, naming no file); the iterators and im2rec refuse it naming the
// image. Stray bytes before a marker (real data sets hold such files; they decode whole) pass.
TEST(ImgIter, CorruptJpegScanNamed) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  const auto noise = [](int y, int x) { return Rgb{(y * 37 + x * 91) % 256, (x * x + y) % 256, (y * y * 7) % 256}; };
  WriteJpegWithOrientation(dir / "img/whole.jpg", 96, 96, noise, 1);
  const std::string jpg = ReadBytes(dir / "img/whole.jpg");
  const size_t sos = jpg.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  const size_t from = sos + 2 + (size_t(uint8_t(jpg[sos + 2])) << 8 | uint8_t(jpg[sos + 3])), to = jpg.size() - 2;
  std::string bad = jpg;
  // A restart marker mid-scan in a file without restart intervals: the scan's data stops there
  // for libjpeg ("premature end of data segment"), its every later block decoded from zeros, and
  // the structure walk (image_bytes.h) passes it as a restart. (Damage of other kinds often
  // decodes into valid codes, ends the scan early and leaves its rest as stray bytes.)
  const size_t mid = from + (to - from) / 2;
  ASSERT_NE(uint8_t(bad[mid - 1]), 0xFF);
  bad[mid] = char(0xFF), bad[mid + 1] = char(0xD0);
  WriteText(dir / "img/bad.jpg", bad);
  ASSERT_EQ(JpegDataProblem(jpg).problem, "");
  ASSERT_EQ(JpegDataProblem(jpg).stray, "");
  const cv::Mat raw(1, int(bad.size()), CV_8U, bad.data());
  ::testing::internal::CaptureStderr();
  ASSERT_FALSE(Codecs().decode(raw, cv::IMREAD_COLOR).empty());  // what OpenCV alone makes of it
  EXPECT_HAS(::testing::internal::GetCapturedStderr(), "Corrupt JPEG data");
  const std::string list = OneImageList(dir, "bad.jpg");
  auto it = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "3,96,96"},
                         {"batch_size", "1"}});
  const std::string problem = "' (" + list + ":1): libjpeg: Corrupt JPEG data: premature end of data segment";
  EXPECT_HAS(ErrorOf([&] { it->Next(); }), "cannot decode image '" + (dir / "img/bad.jpg") + problem);
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }), "im2rec: cannot read image '" + (dir / "img/bad.jpg") + problem);
  EXPECT_FALSE(std::filesystem::exists(dir / "r.rec"));
  // Three stray bytes before the end-of-image marker: libjpeg's JWRN_EXTRANEOUS_DATA, no error
  // but a note naming the image (once a run, not each epoch).
  WriteText(dir / "img/stray.jpg", jpg.substr(0, to) + std::string("\x01\x02\x03", 3) + jpg.substr(to));
  const std::string stray_list = OneImageList(dir, "stray.jpg");
  ::testing::internal::CaptureStderr();
  auto ok = Make("img", {{"image_list", stray_list}, {"image_root", dir / "img"}, {"input_shape", "3,96,96"},
                         {"batch_size", "1"}});
  EXPECT_TRUE(ok->Next());
  ok->BeforeFirst();
  EXPECT_TRUE(ok->Next());
  const std::string said = ::testing::internal::GetCapturedStderr();
  const std::string note = "note: img iterator ('" + stray_list + "'): image '" + (dir / "img/stray.jpg") + "' (" +
                           stray_list + ":1): libjpeg: Corrupt JPEG data: ";
  EXPECT_HAS(said, "extraneous bytes before marker 0xd9 (bytes after the scan data, as some cameras write");
  EXPECT_HAS(said, note);
  EXPECT_EQ(said.find(note), said.rfind(note)) << said;
}

// libjpeg's own decode (ImgCodecs::decode_jpeg, which keeps its warnings) gives OpenCV's pixels:
// colour and grey, from colour and grey JPEGs, each EXIF orientation turned as OpenCV turns it.
TEST(ImgIter, LibjpegDecodesAsOpenCV) {
  TempDir dir;
  const auto noise = [](int y, int x) { return Rgb{(y * 37 + x * 91) % 256, (x * x + y) % 256, (y * y * 7) % 256}; };
  std::vector<std::string> files;
  for (uint8_t o = 1; o <= 8; ++o) {
    WriteJpegWithOrientation(dir / "o.jpg", 12, 20, noise, o);  // not square: a transpose shows
    files.push_back(ReadBytes(dir / "o.jpg"));
  }
  cv::Mat g(9, 14, CV_8UC1);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 14; ++x) g.at<uint8_t>(y, x) = uint8_t(y * 29 + x * 13);
  std::vector<uint8_t> gray;
  ASSERT_TRUE(Codecs().encode(".jpg", g, gray, {}));
  files.emplace_back(gray.begin(), gray.end());
  for (size_t f = 0; f < files.size(); ++f)
    for (const int flags : {cv::IMREAD_COLOR, cv::IMREAD_GRAYSCALE}) {
      std::string problem, stray;
      const cv::Mat ours = Codecs().decode_jpeg(files[f], flags, &problem, &stray);
      const cv::Mat raw(1, int(files[f].size()), CV_8U, files[f].data());
      const cv::Mat theirs = Codecs().decode(raw, flags);
      EXPECT_EQ(problem + stray, "");
      ASSERT_EQ(ours.size(), theirs.size()) << "file " << f << " flags " << flags;
      ASSERT_EQ(ours.type(), theirs.type());
      EXPECT_EQ(cv::norm(ours, theirs, cv::NORM_INF), 0) << "file " << f << " flags " << flags;
    }
  std::string problem, stray;  // other flags: declined, OpenCV decodes them
  EXPECT_TRUE(Codecs().decode_jpeg(files[0], cv::IMREAD_UNCHANGED, &problem, &stray).empty());
  EXPECT_EQ(problem, "");
}

// EXIF as OpenCV reads it where the two could part (a review's cases): an XMP APP1 before the
// EXIF one (only the first APP1 counts), the orientation as a LONG, a TIFF header that is not
// 42, fill bytes before the APP1 marker; and a JFIF revision libjpeg warns of (decoded whole,
// as OpenCV decodes it, no error).
TEST(ImgIter, LibjpegDecodesAsOpenCVOnOddHeaders) {
  cv::Mat m(12, 20, CV_8UC3);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 20; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(y * 20), uint8_t(x * 12), uint8_t(x * y));
  std::vector<uint8_t> enc;
  ASSERT_TRUE(Codecs().encode(".jpg", m, enc, {}));
  const std::string base(enc.begin(), enc.end());
  const auto exif = [](char type, char magic) {  // APP1 with orientation 6 (turned: 20 x 12 shown)
    const char app1[] = {'\xFF', '\xE1', 0, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', magic, 0, 8, 0, 0, 0, 1, 0,
                         0x12, 0x01, type, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
    return std::string(app1, sizeof app1);
  };
  const std::string xmp_body = "http://ns.adobe.com/xap/1.0/" + std::string(1, '\0') + "<x/>";
  const std::string xmp = std::string("\xFF\xE1", 2) + char(0) + char(xmp_body.size() + 2) + xmp_body;
  std::string jfif2 = base;
  ASSERT_EQ(jfif2.compare(6, 5, std::string("JFIF\0", 5)), 0);
  jfif2[11] = 2;  // major revision 2: libjpeg's "unknown JFIF revision number 2.01"
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"short", base.substr(0, 2) + exif(3, 42) + base.substr(2)},
      {"long", base.substr(0, 2) + exif(4, 42) + base.substr(2)},
      {"not 42", base.substr(0, 2) + exif(3, 43) + base.substr(2)},
      {"xmp first", base.substr(0, 2) + xmp + exif(3, 42) + base.substr(2)},
      {"fill bytes", base.substr(0, 2) + "\xFF" + exif(3, 42) + base.substr(2)},
      {"jfif 2", jfif2}};
  for (const auto& [name, bytes] : cases) {
    std::string problem, stray;
    const cv::Mat ours = Codecs().decode_jpeg(bytes, cv::IMREAD_COLOR, &problem, &stray);
    const cv::Mat raw(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    const cv::Mat theirs = Codecs().decode(raw, cv::IMREAD_COLOR);
    EXPECT_EQ(problem, "") << name;
    ASSERT_EQ(ours.size(), theirs.size()) << name;
    EXPECT_EQ(cv::norm(ours, theirs, cv::NORM_INF), 0) << name;
  }
  // A header claiming 33000 x 33000: refused at once, as OpenCV refuses it (libjpeg allocated
  // gigabytes a decoding thread and decoded them).
  std::string huge = base;
  const size_t sof = huge.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  for (size_t at : {sof + 5, sof + 7}) huge[at] = char(0x80), huge[at + 1] = char(0xE8);
  std::string problem, stray;
  EXPECT_TRUE(Codecs().decode_jpeg(huge, cv::IMREAD_COLOR, &problem, &stray).empty());
  EXPECT_HAS(problem, "its header gives 33000 x 33000 pixels, over OpenCV's limit of 2^30 pixels");
  EXPECT_HAS(JpegDataProblem(huge).problem, "over OpenCV's limit");
}

// A JPEG cut short decodes in OpenCV without a word, its missing rows grey; umbra refuses it,
// naming the image, from the iterator and from im2rec. The whole JPEG still decodes.
TEST(ImgIter, TruncatedJpegNamed) {
  TempDir dir;
  std::filesystem::create_directory(dir / "img");
  WriteJpegWithOrientation(dir / "img/whole.jpg", 16, 16, [](int y, int x) { return Rgb{10 * y, 15 * x, 99}; }, 1);
  const std::string jpg = ReadBytes(dir / "img/whole.jpg");
  WriteText(dir / "img/cut.jpg", jpg.substr(0, jpg.size() - 40));
  const cv::Mat raw(1, int(jpg.size() - 40), CV_8U, const_cast<char*>(jpg.data()));
  ASSERT_FALSE(Codecs().decode(raw, cv::IMREAD_COLOR).empty());  // what OpenCV alone makes of it

  auto whole = Make("img", {{"image_list", OneImageList(dir, "whole.jpg")}, {"image_root", dir / "img"},
                            {"input_shape", "3,16,16"}, {"batch_size", "1"}});
  EXPECT_TRUE(whole->Next());
  const std::string list = OneImageList(dir, "cut.jpg");
  auto cut = Make("img", {{"image_list", list}, {"image_root", dir / "img"}, {"input_shape", "3,16,16"},
                          {"batch_size", "1"}});
  const std::string problem = "' (" + list + ":1): it ends after " + std::to_string(jpg.size() - 40) +
                              " bytes, inside its scan data, before its end-of-image marker";
  EXPECT_HAS(ErrorOf([&] { cut->Next(); }), "cannot decode image '" + (dir / "img/cut.jpg") + problem);
  std::string args[] = {"im2rec", list, dir / "img", dir / "r.rec"};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data()};
  EXPECT_HAS(ErrorOf([&] { Im2RecMain(4, argv); }), "im2rec: cannot read image '" + (dir / "img/cut.jpg") + problem);
}

}  // namespace
}  // namespace umbra::io::test
#endif  // UMBRA_USE_OPENCV
