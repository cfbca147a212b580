// The csv iterator on small files written by the test: known values, label_width, header, flat
// default shape, and the errors (file:line) for bad rows. Padding and shuffling: iterator_test.cc.
#include "io_test_util.h"

namespace umbra::io::test {
namespace {

TEST(CsvIter, KnownValuesInChwOrder) {
  TempDir dir;
  WriteText(dir / "a.csv", "7, 1,2,3,4\n8, 5,6,7,8\n");
  auto it = Make("csv", {{"filename", dir / "a.csv"}, {"input_shape", "1,2,2"}, {"batch_size", "2"}});
  ASSERT_TRUE(it->Next());
  const DataBatch& b = it->Value();
  EXPECT_EQ(b.data.shape_, Shape4(2, 1, 2, 2));
  EXPECT_EQ(b.label.shape_, Shape2(2, 1));
  EXPECT_EQ(Take(b).data, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Take(b).label, (std::vector<float>{7, 8}));
  EXPECT_EQ(b.valid, 2);
  EXPECT_FALSE(it->Next());
}

// A UTF-8 byte-order mark before the first value was "column 1 '0' is not a number", the mark unseen.
TEST(CsvIter, ByteOrderMarkIsNoPartOfTheFirstValue) {
  TempDir dir;
  WriteText(dir / "a.csv", "\xEF\xBB\xBF" "7,1,2\n8,3,4\n");
  auto it = Make("csv", {{"filename", dir / "a.csv"}, {"batch_size", "2"}});
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(Take(it->Value()).label, (std::vector<float>{7, 8}));
  EXPECT_EQ(Take(it->Value()).data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(CsvIter, LabelWidthHeaderAndFlatDefaultShape) {
  TempDir dir;
  WriteText(dir / "a.csv", "l1,l2,x,y,z\n1,2,0.5,-1e3,3\r\n\n3,4,5,6,7\n");
  auto it = Make("csv", {{"path_data", dir / "a.csv"}, {"has_header", "1"}, {"label_width", "2"}, {"batch_size", "2"}});
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->Value().data.shape_, Shape4(2, 1, 1, 3));
  EXPECT_EQ(Take(it->Value()).data, (std::vector<float>{0.5f, -1000, 3, 5, 6, 7}));
  EXPECT_EQ(Take(it->Value()).label, (std::vector<float>{1, 2, 3, 4}));
  // Each instance's line, for errors about it (the header and blank lines counted); through a
  // threadbuffer too.
  EXPECT_EQ(it->Locate(0), dir / "a.csv" + ":2");
  EXPECT_EQ(it->Locate(1), dir / "a.csv" + ":4");
  EXPECT_EQ(it->Locate(2), "");
  auto buffered = ChainIterator("threadbuffer", CreateIterator("csv"));
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"path_data", dir / "a.csv"}, {"has_header", "1"}, {"label_width", "2"}, {"batch_size", "2"}})
    buffered->SetParam(k, v);
  buffered->Init();
  EXPECT_EQ(buffered->Locate(1), dir / "a.csv" + ":4");
}

TEST(CsvIter, WrongColumnCountNamesFileAndLine) {
  TempDir dir;
  WriteText(dir / "bad.csv", "1,2,3,4,5\n1,2,3,4,5\n1,2,3\n");
  const std::string msg = ErrorOf([&] { Make("csv", {{"filename", dir / "bad.csv"}, {"batch_size", "1"}}); });
  EXPECT_HAS(msg, "bad.csv:3: 3 columns, expected 5");
}

TEST(CsvIter, ShapeMismatchNamesInputShape) {
  TempDir dir;
  WriteText(dir / "bad.csv", "1,2,3,4\n");
  const std::string msg =
      ErrorOf([&] { Make("csv", {{"filename", dir / "bad.csv"}, {"input_shape", "1,2,2"}, {"batch_size", "1"}}); });
  EXPECT_HAS(msg, "bad.csv:1: 4 columns, expected label_width + c*h*w = 1 + 4 = 5");
}

// Said of the key, not as a column count: label_width = -1 on 5 columns read "expected label_width +
// c*h*w = -1 + 4 = 3".
TEST(CsvIter, LabelWidthBelowOneNamesTheKey) {
  TempDir dir;
  WriteText(dir / "a.csv", "1,2,3,4,5\n");
  for (const std::string w : {"0", "-1"})
    EXPECT_HAS(ErrorOf([&] {
                 Make("csv", {{"filename", dir / "a.csv"}, {"input_shape", "1,2,2"}, {"label_width", w}, {"batch_size", "1"}});
               }),
               "label_width must be positive, got '" + w + "'");
}

TEST(CsvIter, NonNumberNamesFileLineAndColumn) {
  TempDir dir;
  WriteText(dir / "bad.csv", "1,2,3\n1,abc,3\n");
  const std::string msg = ErrorOf([&] { Make("csv", {{"filename", dir / "bad.csv"}, {"batch_size", "1"}}); });
  EXPECT_HAS(msg, "bad.csv:2: column 2 'abc' is not a number");
  WriteText(dir / "bad2.csv", "1,2,3x\n");
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "bad2.csv"}, {"batch_size", "1"}}); }), "bad2.csv:1: column 3 '3x' is not a number");
  // Hexadecimal, which strtof read (0x10 as 16) and numpy's reader refuses.
  for (const std::string v : {"0x10", "-0X1p3"}) {
    WriteText(dir / "hex.csv", "1,2,3\n1," + v + ",3\n");
    EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "hex.csv"}, {"batch_size", "1"}}); }),
               "hex.csv:2: column 2 '" + v + "' is hexadecimal, which is not read; write it in decimal");
  }
  // Not finite as a float: they reached the weights through a finite loss, or made a metric NaN.
  for (const std::string v : {"nan", "-inf", "1e39"}) {
    WriteText(dir / "nf.csv", "1,2,3\n1,2," + v + "\n");
    EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "nf.csv"}, {"batch_size", "1"}}); }),
               "nf.csv:2: column 3 '" + v + "' is not a finite float");
  }
}

// A NUL ended a row where it stood (the rest dropped unsaid, or a short row's column count);
// rows ending in a lone CR were one line, "column 5 '4\r1' is not a number".
TEST(CsvIter, NulBytesAndLoneCarriageReturnsAreNamed) {
  TempDir dir;
  WriteText(dir / "nul.csv", std::string("0,1,2,3,4\n1,1,2,3,4\0junk\n", 26));
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "nul.csv"}, {"batch_size", "1"}}); }),
             "nul.csv:2: a NUL byte at column 5 (a csv file is text)");
  WriteText(dir / "cr.csv", "0,1,2,3,4\r1,1,2,3,4\r");
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "cr.csv"}, {"batch_size", "1"}}); }),
             "cr.csv:1: a carriage return inside a line: lines that end in a lone CR (classic Mac OS) are not read");
  WriteText(dir / "gz.csv", std::string("\x1f\x8b\x08\0junk", 8));  // "a NUL byte at column 1"
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "gz.csv"}, {"batch_size", "1"}}); }),
             "gz.csv' is gzip-compressed; csv files are read as text: gunzip it");
  WriteText(dir / "crlf.csv", "0,1,2\r\n1,4,5\r\n");
  EXPECT_TRUE(Make("csv", {{"filename", dir / "crlf.csv"}, {"batch_size", "1"}})->Next());
  // CR CR LF ends a line, as in image lists; a CR within a line is named with its column and
  // shown escaped.
  WriteText(dir / "crcrlf.csv", "0,1,2\r\r\n1,4,5\r\r\n");
  EXPECT_TRUE(Make("csv", {{"filename", dir / "crcrlf.csv"}, {"batch_size", "1"}})->Next());
  WriteText(dir / "crin.csv", "0,1,2\n1,4\r,5\n");
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "crin.csv"}, {"batch_size", "1"}}); }),
             "crin.csv:2: a carriage return inside a line: lines that end in a lone CR (classic Mac OS) are not read; "
             "end them with LF or CRLF (column 2: '1,4\\r,5')");
  // A field's control bytes are shown escaped: "column 3 '4' is not a number" hid a \v.
  WriteText(dir / "vt.csv", "0,1,4\v\n");
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "vt.csv"}, {"batch_size", "1"}}); }),
             "vt.csv:1: column 3 '4\\v' is not a number");
  // UTF-16 text (a spreadsheet's "Unicode text") was "a NUL byte at column 1".
  WriteText(dir / "u16.csv", std::string("\xff\xfe" "0\0,\0" "1\0\n\0", 10));
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", dir / "u16.csv"}, {"batch_size", "1"}}); }),
             "u16.csv' is UTF-16 text (by its byte-order mark); csv files are read as ASCII or UTF-8");
}

TEST(CsvIter, MissingFileAndMissingKey) {
  EXPECT_HAS(ErrorOf([] { Make("csv", {{"filename", "/nonexistent/x.csv"}, {"batch_size", "1"}}); }), "cannot open csv file '/nonexistent/x.csv'");
  EXPECT_HAS(ErrorOf([] { Make("csv", {{"batch_size", "1"}}); }), "needs filename");
}

}  // namespace
}  // namespace umbra::io::test
