// Record files and im2rec without decoding: the bytes of each "image" (any bytes: im2rec copies
// them) come back with the list's index and labels; truncated or corrupt files, bad usage and
// missing images are clear errors naming the file. The imgrec iterator itself: image_iter_test.cc.
#include <zlib.h>

#include <cstring>

#include "io_test_util.h"
#include "umbra/io/im2rec.h"
#include "umbra/io/record.h"

namespace umbra::io::test {
namespace {

int Im2Rec(std::vector<std::string> args) {
  args.insert(args.begin(), "im2rec");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return Im2RecMain(int(argv.size()), argv.data());
}

// Three files of 1, 6 and 0..255 bytes (every padding length), listed with two labels each.
void ThreeFiles(const TempDir& dir) {
  std::filesystem::create_directory(dir / "img");
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  WriteText(dir / "img/a.bin", "x");
  WriteText(dir / "img/b c.bin", "hello\n");
  WriteText(dir / "img/all.bin", all);
  WriteText(dir / "list.lst", "10\t1\t0.5\ta.bin\n20\t2\t-1\tb c.bin\n\n30\t3\t7\tall.bin\n");
}

TEST(RecFile, Im2RecRoundTripKeepsIndexLabelsAndBytes) {
  TempDir dir;
  ThreeFiles(dir);
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(Im2Rec({dir / "list.lst", dir / "img", dir / "out.rec"}), 0);
  // Packed as they are, with a note: the image iterators could not decode them.
  EXPECT_HAS(::testing::internal::GetCapturedStderr(),
             "note: im2rec: 3 of the 3 files begin with no image format's signature and are packed as they are, "
             "which the image iterators cannot decode (the first: '" + (dir / "img/a.bin") + "' (" +
                 (dir / "list.lst") + ":1))");
  EXPECT_FALSE(std::filesystem::exists(dir / "out.rec.tmp"));
  RecordReader r(dir / "out.rec");
  ASSERT_EQ(r.size(), 3u);
  const char* names[] = {"a.bin", "b c.bin", "all.bin"};
  const std::vector<std::vector<float>> labels = {{1, 0.5f}, {2, -1}, {3, 7}};
  for (size_t i = 0; i < 3; ++i) {
    const Record rec = r.Read(i);
    EXPECT_EQ(rec.index, 10 * (i + 1));
    EXPECT_EQ(r.Index(i), rec.index);  // from the header alone
    EXPECT_EQ(rec.labels, labels[i]);
    EXPECT_EQ(rec.payload, ReadBytes(dir / (std::string("img/") + names[i])));
    EXPECT_EQ(r.offset(i) % 4, 0u);
  }
  // Random access in any order.
  EXPECT_EQ(r.Read(0).payload, "x");
  // Header 12 + index 8 + K 4 + labels 8 + payload, padded to 4: 12+24, 12+28, 12+276; then
  // the end record's 20.
  EXPECT_EQ(std::filesystem::file_size(dir / "out.rec"), 36u + 40 + 288 + 20);
}

TEST(RecFile, TruncatedFileNamesFileAndOffset) {
  TempDir dir;
  ThreeFiles(dir);
  Im2Rec({dir / "list.lst", dir / "img", dir / "out.rec"});
  const uint64_t size = std::filesystem::file_size(dir / "out.rec");
  std::filesystem::resize_file(dir / "out.rec", size - 3);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "out.rec"); }),
             "record file '" + (dir / "out.rec") + "' is truncated at offset 364 (its end record needs 20 bytes, 17 left)");
  // Cut where a record ends: three records read as a whole file of three, unsaid.
  std::filesystem::resize_file(dir / "out.rec", 364);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "out.rec"); }),
             "record file '" + (dir / "out.rec") + "' is truncated at offset 364: no end record after 3 records");
  std::filesystem::resize_file(dir / "out.rec", 361);
  const std::string msg = ErrorOf([&] { RecordReader r(dir / "out.rec"); });
  EXPECT_HAS(msg, "record file '" + (dir / "out.rec") + "' is truncated at offset 76 (record 2 needs 288 bytes, 285 left)");
  std::filesystem::resize_file(dir / "out.rec", 80);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "out.rec"); }), "is truncated at offset 76 (record 2: 4 bytes left");
  std::filesystem::resize_file(dir / "out.rec", 76);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "out.rec"); }), "is truncated at offset 76: no end record after 2 records");
}

// The end record counts what comes before it, and nothing follows it.
TEST(RecFile, EndRecordIsChecked) {
  TempDir dir;
  ThreeFiles(dir);
  Im2Rec({dir / "list.lst", dir / "img", dir / "out.rec"});
  const std::string bytes = ReadBytes(dir / "out.rec");
  WriteText(dir / "after.rec", bytes + "abcd");
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "after.rec"); }), "after.rec' has 4 bytes after its end record (offset 364)");
  std::string count = bytes;
  count[364 + 12] ^= 1;  // the count, its CRC unchanged
  WriteText(dir / "count.rec", count);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "count.rec"); }), "count.rec' is corrupt at offset 364: a damaged end record");
  // A count that is not the records', with its CRC made to match.
  std::string five = bytes;
  const uint64_t n5 = 5;
  std::memcpy(five.data() + 364 + 12, &n5, 8);
  const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(&n5), 8));
  std::memcpy(five.data() + 364 + 8, &crc, 4);
  WriteText(dir / "five.rec", five);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "five.rec"); }), "its end record (offset 364) counts 5 records, 3 come before it");
  // Records after an end record (two files joined): the count is right, but bytes follow.
  WriteText(dir / "joined.rec", bytes + bytes);
  EXPECT_HAS(ErrorOf([&] { RecordReader r(dir / "joined.rec"); }), "has 384 bytes after its end record");
  // No records: the end record alone, read as an empty file of records.
  {
    RecordWriter w(dir / "none.rec");
    w.Close();
  }
  EXPECT_EQ(std::filesystem::file_size(dir / "none.rec"), 20u);
  EXPECT_TRUE(IsRecordFile(dir / "none.rec"));
  EXPECT_EQ(RecordReader(dir / "none.rec").size(), 0u);
}

TEST(RecFile, CorruptBytesAreRefused) {
  TempDir dir;
  ThreeFiles(dir);
  Im2Rec({dir / "list.lst", dir / "img", dir / "out.rec"});
  std::string bytes = ReadBytes(dir / "out.rec");
  std::string flipped = bytes;
  flipped[bytes.size() - 21] ^= 1;  // last payload byte (before the end record)
  WriteText(dir / "flip.rec", flipped);
  RecordReader r(dir / "flip.rec");
  EXPECT_EQ(r.Read(0).payload, "x");
  EXPECT_HAS(ErrorOf([&] { r.Read(2); }), "flip.rec' is corrupt at offset 76 (record 2): checksum mismatch");
  // A file that is none is said so by its first bytes, whatever its size past 3 (a 10-byte text
  // was "truncated at offset 0"); a shorter one by its size, an empty one as empty.
  WriteText(dir / "magic.rec", "GIF89a" + bytes);
  EXPECT_HAS(ErrorOf([&] { RecordReader r2(dir / "magic.rec"); }),
             "magic.rec' begins with 'GIF8', no record's magic: not a record file of umbra's, cxxnet's or mxnet's "
             "im2rec?");
  WriteText(dir / "short.rec", "0\t1\ta.png\n");
  EXPECT_HAS(ErrorOf([&] { RecordReader r2(dir / "short.rec"); }), "short.rec' begins with '0\\t1\\t', no record's magic");
  WriteText(dir / "three.rec", "abc");
  EXPECT_HAS(ErrorOf([&] { RecordReader r2(dir / "three.rec"); }), "three.rec' is 3 bytes, shorter than any record file");
  WriteText(dir / "empty.rec", "");
  EXPECT_HAS(ErrorOf([&] { RecordReader r2(dir / "empty.rec"); }), "empty.rec' is empty: it holds no records");
  EXPECT_HAS(ErrorOf([&] { RecordReader r3(dir / "none.rec"); }), "cannot open record file");
  // A corrupt length sends the walk into the next record: its bad magic names the length too.
  std::string longer = bytes;
  longer[4] ^= 4;  // record 0's length, 4 bytes more
  WriteText(dir / "len.rec", longer);
  EXPECT_HAS(ErrorOf([&] { RecordReader r4(dir / "len.rec"); }),
             "len.rec' is corrupt at offset 32 (record 1): bad magic 0x");
  EXPECT_HAS(ErrorOf([&] { RecordReader r4(dir / "len.rec"); }), "; or the length of record 0 (at offset 0) is corrupt");
}

// cxxnet's and mxnet's .rec files are read as they are: index, label (or mxnet's packed labels)
// and image bytes, a record split where its data held the magic joined again.
TEST(RecFile, ReadsCxxnetAndMxnetRecordIO) {
  TempDir dir;
  const uint32_t magic = kDmlcRecordMagic;
  const std::string m(reinterpret_cast<const char*>(&magic), 4);
  // Image bytes with the magic at offsets 0 and 8 of the image, i.e. 32 and 40 of the data
  // after its header and two labels (multiples of 4: split there), and at 45 (not split).
  const std::string tricky = m + "abcd" + m + "x" + m + "yz";
  WriteText(dir / "a.rec", DmlcImage(7, 3, {}, "jpeg") + DmlcImage(9, 0, {1.5f, -2}, tricky) + DmlcImage(11, 4, {}, ""));
  EXPECT_TRUE(IsRecordFile(dir / "a.rec"));
  RecordReader r(dir / "a.rec");
  EXPECT_TRUE(r.dmlc());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.Read(1).payload, tricky);
  EXPECT_EQ(r.Read(1).labels, (std::vector<float>{1.5f, -2}));
  EXPECT_EQ(r.Read(1).index, 9u);
  EXPECT_EQ(r.Read(0).payload, "jpeg");
  EXPECT_EQ(r.Read(0).labels, std::vector<float>{3});
  EXPECT_EQ(r.Read(2).index, 11u);
  EXPECT_EQ(r.Read(2).payload, "");
  EXPECT_EQ(r.offset(1), 8u + 28);
  // Bytes written out by hand, not by DmlcRecord: a whole record (label 2, id 3, image "abcd"),
  // then one split where its image began with the magic (flag 1: the 24 header bytes; flag 3:
  // "xy" and two bytes of padding).
  const std::string id3 = std::string("\x03", 1) + std::string(7, '\0') + std::string(8, '\0');
  const std::string head = std::string("\0\0\0\0", 4) + std::string("\0\0\0\x40", 4) + id3;  // flag 0, 2.0f
  WriteText(dir / "hand.rec", "\x0a\x23\xd7\xce" + std::string("\x1c\0\0\0", 4) + head + "abcd" +
                                  "\x0a\x23\xd7\xce" + std::string("\x18\0\0\x20", 4) + head +
                                  "\x0a\x23\xd7\xce" + std::string("\x02\0\0\x60", 4) + std::string("xy\0\0", 4));
  RecordReader hand(dir / "hand.rec");
  ASSERT_EQ(hand.size(), 2u);
  EXPECT_EQ(hand.Read(0).index, 3u);
  EXPECT_EQ(hand.Read(0).labels, std::vector<float>{2});
  EXPECT_EQ(hand.Read(0).payload, "abcd");
  EXPECT_EQ(hand.Read(1).payload, m + "xy");
  EXPECT_EQ(hand.offset(1), 36u);
  EXPECT_EQ(hand.Index(0), 3u);
  EXPECT_EQ(hand.Index(1), 3u);  // a split record: its first part holds the header
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r.Index(i), r.Read(i).index) << i;
  // Empty parts: data ending in the magic (an empty last part), two magics in a row (an empty
  // middle part).
  WriteText(dir / "empty.rec", DmlcImage(1, 0, {}, "abcd" + m) + DmlcImage(2, 0, {}, m + m + "z"));
  RecordReader empty(dir / "empty.rec");
  ASSERT_EQ(empty.size(), 2u);
  EXPECT_EQ(empty.Read(0).payload, "abcd" + m);
  EXPECT_EQ(empty.Read(1).payload, m + m + "z");
  EXPECT_EQ(empty.Read(1).index, 2u);
  // Truncated in a part, in a header, and a stray flag: errors naming the file and offset.
  const std::string bytes = ReadBytes(dir / "a.rec");
  WriteText(dir / "cut.rec", bytes.substr(0, bytes.size() - 2));
  EXPECT_HAS(ErrorOf([&] { RecordReader c(dir / "cut.rec"); }), "cut.rec' is truncated at offset ");
  WriteText(dir / "cut2.rec", bytes.substr(0, 8 + 28 + 4));
  EXPECT_HAS(ErrorOf([&] { RecordReader c(dir / "cut2.rec"); }),
             "cut2.rec' is truncated at offset 36 (record 1: 4 bytes left, a RecordIO header needs 8)");
  std::string stray = bytes;
  stray[7] = char(0x40);  // record 0's flag 2: a middle part where a record starts
  WriteText(dir / "flag.rec", stray);
  EXPECT_HAS(ErrorOf([&] { RecordReader c(dir / "flag.rec"); }),
             "flag.rec' (RecordIO) is corrupt at offset 0 (record 0): part flag 2 where a record starts");
  WriteText(dir / "short.rec", DmlcRecord("0123456789"));
  RecordReader sr(dir / "short.rec");
  EXPECT_HAS(ErrorOf([&] { sr.Read(0); }), "holds 10 bytes, fewer than an image record's header of 24");
  // im2rec does not replace one: its images may be nowhere else.
  ThreeFiles(dir);
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "a.rec"}); }),
             "is a RecordIO file of cxxnet's or mxnet's im2rec");
  EXPECT_EQ(ReadBytes(dir / "a.rec"), bytes);
}

TEST(RecFile, Im2RecErrors) {
  TempDir dir;
  ThreeFiles(dir);
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst"}); }), "usage: im2rec LIST ROOT OUT.rec");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "size=3"}); }), "unknown key 'size'");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "quality=0"}); }), "quality must be");
  WriteText(dir / "missing.lst", "0\t1\ta.bin\n1\t1\tgone.png\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "missing.lst", dir / "img", dir / "o.rec"}); }),
             "cannot open image '" + (dir / "img/gone.png") + "' (" + (dir / "missing.lst") + ":2)");
  EXPECT_FALSE(std::filesystem::exists(dir / "o.rec"));
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))  // no temporary left behind
    EXPECT_EQ(f.path().filename().string().find("o.rec.tmp"), std::string::npos) << f.path();
  // A folder as OUT is refused before anything is written (the rename failed, leaving the
  // temporary); a user's file named like a temporary is not touched; bad sizes are named.
  std::filesystem::create_directory(dir / "out");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "out"}); }),
             "im2rec: '" + (dir / "out") + "' is no regular file; not overwriting it");
  WriteText(dir / "mine.rec.tmp", "precious");
  ASSERT_EQ(Im2Rec({dir / "list.lst", dir / "img", dir / "mine.rec"}), 0);
  EXPECT_EQ(ReadBytes(dir / "mine.rec.tmp"), "precious");
  // A link is judged by what it names and written through, as every other output is: to a
  // record file it is replaced behind the link; to nothing (written in place, so a failure
  // half-way left half a file), a folder or another kind of file it is refused.
  std::filesystem::create_symlink("mine.rec", dir / "link.rec");
  std::filesystem::create_symlink("later.rec", dir / "dangling.rec");
  std::filesystem::create_symlink("list.lst", dir / "tolist.rec");
  std::filesystem::create_symlink("out", dir / "todir.rec");
  const std::string before = ReadBytes(dir / "mine.rec");
  WriteText(dir / "one.lst", "10\t1\t0.5\ta.bin\n");
  ASSERT_EQ(Im2Rec({dir / "one.lst", dir / "img", dir / "link.rec"}), 0);
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "link.rec"));
  EXPECT_LT(ReadBytes(dir / "mine.rec").size(), before.size());  // the file behind it, replaced
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "dangling.rec"}); }),
             "dangling.rec' is a symlink to nothing; not overwriting it");
  EXPECT_FALSE(std::filesystem::exists(dir / "later.rec"));
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "tolist.rec"}); }),
             "tolist.rec' exists and is no record file; not overwriting it");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "todir.rec"}); }),
             "todir.rec' is no regular file");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "label_width=-1"}); }),
             "label_width must be in [0, 1048576], got '-1'");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "resize=100000"}); }),
             "resize must be in [0, 16384], got '100000'");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "resize=abc"}); }),
             "im2rec: resize must be a whole number in [0, 16384], got 'abc'");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "resize=1e3"}); }),
             "im2rec: resize must be a whole number in [0, 16384], got '1e3'");
  // A key twice (the last was taken, unsaid); quality without resize does nothing: a note.
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", dir / "o.rec", "resize=10", "resize=20"}); }),
             "im2rec: resize is given twice ('resize=10' and 'resize=20'); give it once");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Im2Rec({dir / "list.lst", dir / "img", dir / "q.rec", "quality=5"}), 0);
  EXPECT_HAS(::testing::internal::GetCapturedStderr(), "note: im2rec: quality=5 does nothing without resize=N");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "list.lst", dir / "img", ""}); }), "im2rec: the output file name is empty");
  // A file named as an image that is none (a text file called .png) is refused with its list
  // line (it failed only in training, as "record 1 of 'o.rec'"); an image of another format
  // under that name (a PGM called .png) passes, since the decoder goes by the bytes.
  WriteText(dir / "img/text.png", "just some text\n");
  WriteText(dir / "img/gray.png", std::string("P5\n1 1\n255\n\x07", 12));
  WriteText(dir / "named.lst", "0\t1\tgray.png\n1\t1\ttext.png\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "named.lst", dir / "img", dir / "o.rec"}); }),
             "im2rec: '" + (dir / "img/text.png") + "' (" + (dir / "named.lst") + ":2) is named as an image but begins "
             "with no image format's signature");
  EXPECT_FALSE(std::filesystem::exists(dir / "o.rec"));
  WriteText(dir / "gray.lst", "0\t1\tgray.png\n");
  EXPECT_EQ(Im2Rec({dir / "gray.lst", dir / "img", dir / "g.rec"}), 0);
  WriteText(dir / "bad.lst", "0\t1\ta.bin\nx\t1\tb c.bin\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "bad.lst", dir / "img", dir / "o.rec"}); }),
             "bad.lst:2: index 'x' is not a non-negative integer");
  WriteText(dir / "neg.lst", "-1\t1\ta.bin\n");  // strtoull made it 2^64 - 1
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "neg.lst", dir / "img", dir / "o.rec"}); }),
             "neg.lst:1: index '-1' is not a non-negative integer");
  WriteText(dir / "nan.lst", "0\tnan\ta.bin\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "nan.lst", dir / "img", dir / "o.rec"}); }),
             "nan.lst:1: label 1 'nan' is not a finite float");
  // A byte-order mark is skipped; a NUL (which cut the path short) and a label a float holds as
  // 0 are refused.
  WriteText(dir / "bom.lst", "\xEF\xBB\xBF" "0\t1\ta.bin\n");
  EXPECT_EQ(Im2Rec({dir / "bom.lst", dir / "img", dir / "bom.rec"}), 0);
  WriteText(dir / "nul.lst", std::string("0\t1\ta.bin\0junk\n", 16));
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "nul.lst", dir / "img", dir / "o.rec"}); }), "nul.lst:1: a NUL byte");
  // Lines ending in a lone CR are said so (the error quoted a CR, garbling the terminal); CRLF
  // reads. A hexadecimal label is refused, as the config's numbers are (0x1p3 was 8).
  WriteText(dir / "cr.lst", "0\t1\ta.bin\r1\t1\ta.bin\r");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "cr.lst", dir / "img", dir / "o.rec"}); }),
             "cr.lst:1: a carriage return inside a line: lines that end in a lone CR (classic Mac OS) are not read");
  WriteText(dir / "crlf.lst", "0\t1\ta.bin\r\n1\t1\ta.bin\r\n");
  EXPECT_EQ(Im2Rec({dir / "crlf.lst", dir / "img", dir / "crlf.rec"}), 0);
  WriteText(dir / "hex.lst", "0\t0x1p3\ta.bin\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "hex.lst", dir / "img", dir / "o.rec"}); }),
             "hex.lst:1: label 1 '0x1p3': hexadecimal is not read; write it in decimal");
  WriteText(dir / "tiny.lst", "0\t1e-50\ta.bin\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "tiny.lst", dir / "img", dir / "o.rec"}); }),
             "tiny.lst:1: label 1 '1e-50' is below what a float holds");
  WriteText(dir / "width.lst", "0\t1\ta.bin\n1\t1\t2\tb c.bin\n");
  EXPECT_HAS(ErrorOf([&] { Im2Rec({dir / "width.lst", dir / "img", dir / "o.rec"}); }),
             "width.lst:2: 2 label(s), expected label_width = 1");
}

}  // namespace
}  // namespace umbra::io::test
