// im2rec (include/umbra/io/im2rec.h): list + folder -> record file. Copying the encoded bytes
// needs no OpenCV (PNG and JPEG structure is checked and a PNG colour profile left out:
// umbra/io/image_bytes.h); built with it, each image but a JPEG is decoded once to check it;
// resize (decode, scale, re-encode) needs it, and is refused without it.
#include "umbra/io/im2rec.h"


#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "image_list.h"
#include "umbra/io/image_bytes.h"
#include "umbra/io/record.h"
#include "umbra/parse.h"

#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV
#include <opencv2/imgcodecs.hpp>  // the flags only: the codecs are imgcodecs.h's plugin
#include <opencv2/imgproc.hpp>

#include "decode_image.h"
#include "imgcodecs.h"
#endif

namespace umbra::io {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV
// Decodes any colour format and depth, as stored, but turned upright by its EXIF orientation as
// the img/imgrec iterators' decoding turns it (IMREAD_UNCHANGED would not: a re-encoded file has
// no EXIF, so a photo would otherwise reach the net turned by how it was packed). Pixels the
// iterators do not read (all but 8 or 16 bits unsigned) are refused: decoded to 8 bits, a float
// TIFF's 0.46 became 0.
cv::Mat DecodeForIm2Rec(const std::string& bytes, const std::string& path, const std::string& where) {
  std::string said;
  cv::Mat img;
  try {  // OpenCV throws for some corrupt files rather than return an empty image
    img = DecodeImage(bytes, cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH, &said);
  } catch (const cv::Exception& e) {
    UMBRA_THROW("im2rec: OpenCV failed on image '", path, "' (", where, "): ", OpenCvWords(e));
  }
  UMBRA_CHECK(!img.empty(), "im2rec: cannot decode image '", path, "' (", where, ")",
              said.empty() ? "" : "; OpenCV: " + said);
  const int d = img.depth();
  // A PNM's maxval that is neither 255 nor 65535, scaled to the depth it is decoded to (OpenCV
  // does not: maxval 1023's white was packed as 1023, read as 3 of 255).
  if (const unsigned maxval = PnmMaxval(bytes); maxval != 0 && maxval != 255 && maxval != 65535 &&
                                                (d == CV_8U || d == CV_16U))
    img.convertTo(img, d, (d == CV_8U ? 255.0 : 65535.0) / maxval);
  if (d == CV_8U || d == CV_16U) return img;
  const std::string kind = d == CV_8S    ? "8-bit signed"
                           : d == CV_16S ? "16-bit signed"
                           : d == CV_32S ? "32-bit integer"
                           : d == CV_16F ? "16-bit floating-point"
                           : d == CV_32F ? "32-bit floating-point"
                           : d == CV_64F ? "64-bit floating-point"
                                         : "OpenCV depth " + std::to_string(d);
  UMBRA_THROW("im2rec: cannot read image '", path, "' (", where, "): ", UnreadablePixels(kind));
}
#endif

// Decodes, scales the shorter side to `side`, re-encodes as PNG (a lossless format, or 16 bits a
// channel) or JPEG (any other 8-bit image: a JPEG's, a GIF's, a WebP's).
std::string Resize(const std::string& bytes, const std::string& path, const std::string& where, int side,
                   int quality, bool* as_jpeg) {
#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV
  // A lossless format resized stays lossless: as JPEG a PPM packed with resize=3 was off by up
  // to 79 levels.
  const bool png = IsLosslessImage(bytes);
  const cv::Mat img = DecodeForIm2Rec(bytes, path, where);
  std::vector<uint8_t> enc;
  try {
    // The new size in double: a 200000 x 1 strip to a shorter side of 16384 wrapped int to 1 wide.
    const double f = double(side) / std::min(img.rows, img.cols);
    const double w = std::max(1.0, std::round(img.cols * f)), h = std::max(1.0, std::round(img.rows * f));
    UMBRA_CHECK(w * h <= double(1 << 30), "im2rec: image '", path, "' (", where, ") is ", img.cols, "x", img.rows,
                "; resize=", side, " would make it ", (long long)w, "x", (long long)h, ", more than 2^30 pixels");
    cv::Mat out;
    cv::resize(img, out, cv::Size(int(w), int(h)), 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    // 16 bits a channel stay 16 in a PNG (as JPEG they were written as 8 bits of the low byte:
    // white); the iterators read such a PNG as any 16-bit image.
    const bool lossless = png || out.depth() != CV_8U;
    *as_jpeg = !lossless;
    const std::vector<int> opts = lossless ? std::vector<int>{} : std::vector<int>{cv::IMWRITE_JPEG_QUALITY, quality};
    UMBRA_CHECK(Codecs().encode(lossless ? ".png" : ".jpg", out, enc, opts), "im2rec: cannot encode image '", path,
                "'");
  } catch (const cv::Exception& e) {
    UMBRA_THROW("im2rec: OpenCV failed on image '", path, "' (", where, "): ", OpenCvWords(e));
  }
  return std::string(enc.begin(), enc.end());
#else
  (void)bytes, (void)side, (void)quality, (void)as_jpeg;
  UMBRA_THROW("im2rec: resize needs OpenCV, but umbra was built without OpenCV (image '", path, "', ", where, ")");
#endif
}

// Whether the file's extension names an image format.
bool NamedAsImage(const std::string& path) {
  static const std::set<std::string> kImage = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".gif", ".tif", ".tiff",
                                               ".webp", ".pbm", ".pgm", ".ppm", ".pnm", ".pfm", ".jp2", ".exr", ".hdr",
                                               ".pic", ".ras", ".sr"};
  return kImage.count(Lower(std::filesystem::path(path).extension().string())) > 0;
}

// Why OUT must not be replaced, or "". Only a record file (or an empty one) is: OUT named as the
// list, an image or a model by a slip of the argument order would otherwise be lost, and a
// rename over a device or a folder is no output at all. A symlink is judged by what it names,
// since the writer (AtomicOutput) replaces that file and keeps the link; one to nothing would be
// written in place, not whole or not at all (a failure half-way left half a file).
std::string OutputProblem(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st) && std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec)))
    return "is a symlink to nothing";
  if (!std::filesystem::exists(st)) return {};
  if (!std::filesystem::is_regular_file(st)) return "is no regular file";
  // cxxnet's or mxnet's .rec: its images may be nowhere else, and umbra reads it as it is.
  if (IsDmlcRecordFile(path)) return "is a RecordIO file of cxxnet's or mxnet's im2rec (the imgrec iterator reads it)";
  return std::filesystem::file_size(path, ec) > 0 && !IsRecordFile(path) ? "exists and is no record file" : "";
}

}  // namespace

int Im2RecMain(int argc, char** argv) {
  const std::string name = argc > 0 ? argv[0] : "im2rec";
  const std::string usage = "usage: " + name + " LIST ROOT OUT.rec [resize=N] [quality=Q] [label_width=K]";
  UMBRA_CHECK(argc >= 4, usage);
  const std::string list_path = argv[1], root = argv[2], out_path = argv[3];
  int resize = 0, quality = 95, label_width = 0;
  std::map<std::string, std::string> given;  // key -> its argument, for a key given twice
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    UMBRA_CHECK(eq != std::string::npos, "im2rec: argument '", a, "' is not key=value; ", usage);
    const std::string k = a.substr(0, eq), v = a.substr(eq + 1);
    // A side past 16384 pixels asked OpenCV for tens of GB and failed in its words.
    const auto number = [&](long long lo, long long hi, const char* range) {
      const auto n = ParseInteger(v, lo, hi);
      UMBRA_CHECK(n, "im2rec: ", k, " must be ", SpellsInteger(v) ? "" : "a whole number ", range, ", got '", v, "'");
      return int(*n);
    };
    if (k == "resize") resize = number(0, 16384, "in [0, 16384]");
    else if (k == "quality") quality = number(1, 100, "in [1, 100]");
    else if (k == "label_width") label_width = number(0, 1 << 20, "in [0, 1048576]");
    else UMBRA_THROW("im2rec: unknown key '", k, "'; ", usage);
    // resize=10 resize=20 packed at 20, unsaid: two values of one key are one too many.
    const auto [at, fresh] = given.emplace(k, a);
    UMBRA_CHECK(fresh || ParseInteger(at->second.substr(eq + 1)) == ParseInteger(v), "im2rec: ", k,
                " is given twice ('", at->second, "' and '", a, "'); give it once");
  }
  // quality sets the JPEG re-encoding that resize does; without resize the bytes are packed as
  // they are, and quality=5 did nothing, unsaid.
  if (given.count("quality") && resize == 0)
    std::fprintf(stderr, "note: im2rec: %s does nothing without resize=N (the images are packed as they are; "
                 "quality is that of the JPEGs resize re-encodes)\n", given["quality"].c_str());
  UMBRA_CHECK(!out_path.empty(), "im2rec: the output file name is empty; ", usage);
  const std::string out_problem = OutputProblem(out_path);
  UMBRA_CHECK(out_problem.empty(), "im2rec: '", out_path, "' ", out_problem,
              "; not overwriting it (remove it or name another output)");

  const std::vector<ImageListEntry> list = ReadImageList(list_path, label_width);
  // An index is an image's name in the records: an imgrec block's image_list finds labels by it
  // (a list of zeros packed, then relabelled, gave every image the one label; the iterator now
  // refuses such records). Read with their own labels they do: a note, as cxxnet packed them.
  std::unordered_map<uint64_t, size_t> line_of;
  size_t repeats = 0;
  std::string first_repeat;
  for (const ImageListEntry& e : list) {
    const auto [it, fresh] = line_of.emplace(e.index, e.line);
    if (!fresh && repeats++ == 0)
      first_repeat = list_path + ":" + std::to_string(e.line) + " repeats index " + std::to_string(e.index) +
                     " of line " + std::to_string(it->second);
  }
  if (repeats > 0)
    std::fprintf(stderr, "note: im2rec: %zu list line(s) repeat an earlier index (the first: %s): the records read "
                 "with their own labels, but an imgrec block given an image_list, which finds labels by index, "
                 "refuses records that share one\n", repeats, first_repeat.c_str());
  RecordWriter w(out_path);  // written whole and renamed into place, or not at all
  size_t not_images = 0, jpegs = 0;  // files of no image format; images resize wrote as JPEG
  std::string first_not_image;
  const bool prefix = RootIsPrefix(root);
  if (prefix)
    std::fprintf(stderr, "im2rec: note: ROOT '%s' is no folder: it is written before each listed path ('%s')\n",
                 root.c_str(), ImagePath(root, list.front().path, true).c_str());
  for (const ImageListEntry& e : list) {
    const std::string path = ImagePath(root, e.path, prefix);
    const std::string where = list_path + ":" + std::to_string(e.line);
    Record r;
    r.index = e.index;
    r.labels = e.labels;
    r.payload = ReadImageFile(path, "'" + path + "' (" + where + ")");
    // Bytes are copied undecoded (any format passes), so a file named as an image that is none
    // (a text file called .png) would fail only in training, as "record 5 of 'x.rec'".
    UMBRA_CHECK(!NamedAsImage(path) || HasImageSignature(r.payload), "im2rec: '", path, "' (", where,
                ") is named as an image but begins with no image format's signature (PNG, JPEG, BMP, GIF, TIFF, ",
                "WebP, PNM, ...)");
    // Others are packed as they are (a record file holds any payload), counted for a note: the
    // image iterators cannot decode them, and named then only "record 30 of 'x.rec'".
    if (!HasImageSignature(r.payload) && not_images++ == 0) first_not_image = "'" + path + "' (" + where + ")";
    std::string pruned;  // a cut or broken PNG/JPEG is refused here; a PNG profile is left out
    const std::string problem = CheckImageBytes(r.payload, &pruned, /*deep=*/true);
    UMBRA_CHECK(problem.empty(), "im2rec: cannot read image '", path, "' (", where, "): ", problem);
#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV  // libjpeg comes with the codecs plugin
    const JpegWords jpeg = JpegDataProblem(r.payload);  // packed once, read for every epoch after
    UMBRA_CHECK(jpeg.problem.empty(), "im2rec: cannot read image '", path, "' (", where, "): libjpeg: ", jpeg.problem);
    if (!jpeg.stray.empty()) NoteStrayBytes("im2rec: image '" + path + "' (" + where + ")", jpeg.stray);
#endif
    if (!pruned.empty()) r.payload = std::move(pruned);
    // Floating-point pixels: Resize sees them decoded (after any error of OpenCV's own), else
    // the format's signature says; a TIFF (which may hold any depth) is decoded to see.
    const std::string floats = resize > 0 ? "" : UnreadPixelsProblem(r.payload);
    UMBRA_CHECK(floats.empty(), "im2rec: cannot read image '", path, "' (", where, "): ", floats);
#if defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV
    // Every image but a JPEG (whose scans were read above) is decoded once here: one OpenCV
    // cannot decode (a GIF, a WebP cut short, a PNG whose pixel data is short) was packed, and
    // failed only in training as "record 5 of 'x.rec'", naming no image. Bytes that begin with
    // no image format's signature are packed as they are (a record file holds any payload).
    if (resize == 0 && !r.payload.starts_with(std::string_view("\xff\xd8\xff", 3)) && HasImageSignature(r.payload))
      DecodeForIm2Rec(r.payload, path, where);
#endif
    bool as_jpeg = false;
    if (resize > 0) r.payload = Resize(r.payload, path, where, resize, quality, &as_jpeg);
    jpegs += as_jpeg;
    w.Write(r);
  }
  w.Close();
  // With resize, lossless sources and 16-bit images are re-encoded as PNG, which has no quality:
  // quality=10 over a list of PPMs did nothing, unsaid.
  if (given.count("quality") && resize > 0 && jpegs == 0)
    std::fprintf(stderr, "note: im2rec: %s did nothing: resize re-encoded every image as PNG (lossless sources and "
                 "16-bit images stay lossless), and quality is that of JPEGs\n", given["quality"].c_str());
  if (not_images > 0)
    std::fprintf(stderr, "note: im2rec: %zu of the %zu files begin with no image format's signature and are packed "
                 "as they are, which the image iterators cannot decode (the first: %s)\n", not_images, list.size(),
                 first_not_image.c_str());
  const uint64_t bytes = w.bytes_written();
  std::printf("im2rec: wrote %zu records (%.1f MB) to %s\n", list.size(), bytes / 1e6, out_path.c_str());
  return 0;
}

}  // namespace umbra::io
