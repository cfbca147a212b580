// idx files (io/mnist.h ReadIdx): a header's claimed size is not trusted with memory, so a
// corrupt or truncated file is "truncated" naming the file, never an allocation failure; a
// well-formed small file reads back exactly.
#include "io_test_util.h"
#include "umbra/io/mnist.h"

namespace umbra::io::test {
namespace {

std::string Idx(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s = {'\0', '\0', '\x08', char(dims.size())};
  for (uint32_t d : dims)
    for (int b = 3; b >= 0; --b) s += char(d >> (8 * b) & 0xff);
  return s + data;
}

TEST(Idx, ReadsASmallFile) {
  TempDir dir;
  WriteText(dir / "a.idx", Idx({2, 3}, "abcdef"));
  const IdxData d = ReadIdx(dir / "a.idx");
  EXPECT_EQ(d.dims, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(std::string(d.bytes.begin(), d.bytes.end()), "abcdef");
}

TEST(Idx, HugeClaimedSizeIsTruncatedNotAnAllocation) {
  // 65536 x 65536 x 1 claims 4 GiB; the file holds 10 bytes.
  TempDir dir;
  WriteText(dir / "big.idx", Idx({65536, 65536, 1}, "0123456789"));
  const std::string m = ErrorOf([&] { ReadIdx(dir / "big.idx"); });
  EXPECT_HAS(m, "big.idx' is truncated: could not read the data its header gives (wanted 4294967296 bytes, got 10)");
  // Dimensions whose product wraps a 64-bit size (2^22 x 2^21 x 2^21 wrapped to 0: a file
  // "complete" without data) are refused as a corrupt header.
  WriteText(dir / "wrap.idx", Idx({1u << 22, 1u << 21, 1u << 21}, ""));
  EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "wrap.idx"); }),
             "wrap.idx': its header's dimensions multiply to more than 2^40 bytes (a corrupt header)");
  WriteText(dir / "bad.idx", "\x01\x02\x03\x04");
  EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "bad.idx"); }), "not an unsigned-byte idx file");
}

// The whole gzip stream is read, so its checksum is checked: a flipped byte in the compressed
// data or in the stored CRC is "corrupt" with zlib's reason, not data trained on or "truncated".
// A plain file that goes on after the header's size is refused too.
TEST(Idx, CorruptGzipAndTrailingBytesAreErrors) {
  TempDir dir;
  std::string data(5000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char((i * 7919) % 251);  // compresses poorly: bytes to flip
  WriteText(dir / "a.idx", Idx({50, 100}, data));
  const auto gzip = [&](const std::string& name) {
    gzFile g = gzopen((dir / name).c_str(), "wb");
    const std::string raw = Idx({50, 100}, data);
    ASSERT_EQ(gzwrite(g, raw.data(), unsigned(raw.size())), int(raw.size()));
    ASSERT_EQ(gzclose(g), Z_OK);
  };
  gzip("a.gz");
  EXPECT_EQ(ReadIdx(dir / "a.gz").bytes.size(), 5000u);
  std::ifstream in(dir / "a.gz", std::ios::binary);
  const std::string gz((std::istreambuf_iterator<char>(in)), {});
  for (const size_t at : {gz.size() / 2, gz.size() - 6}) {  // compressed data; the CRC (8-byte trailer: CRC, size)
    std::string flipped = gz;
    flipped[at] ^= 0x10;
    WriteText(dir / "f.gz", flipped);
    SCOPED_TRACE(at);
    EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "f.gz"); }), "f.gz' is corrupt: ");
  }
  for (const size_t cut : {4, 8}) {  // the stored size, and the CRC with it: never compared
    WriteText(dir / "cut.gz", gz.substr(0, gz.size() - cut));
    SCOPED_TRACE(cut);
    EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "cut.gz"); }), "cut.gz' is corrupt: ");
  }
  // A large file cut in its trailer: gzread gave all the data before the cut, and the end
  // check said the file went on after its gzip data, the opposite of what happened.
  {
    std::string big(400000, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = char((i * 7919 + i / 977) % 251);
    gzFile g = gzopen((dir / "big.gz").c_str(), "wb");
    const std::string raw = Idx({4000, 100}, big);
    ASSERT_EQ(gzwrite(g, raw.data(), unsigned(raw.size())), int(raw.size()));
    ASSERT_EQ(gzclose(g), Z_OK);
    std::ifstream b(dir / "big.gz", std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(b)), {});
    for (const size_t cut : {1, 4, 8}) {
      WriteText(dir / "bigcut.gz", whole.substr(0, whole.size() - cut));
      SCOPED_TRACE(cut);
      EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "bigcut.gz"); }), "bigcut.gz' is truncated: the file ends inside a gzip member");
    }
  }
  WriteText(dir / "long.idx", Idx({50, 100}, data) + "x");
  EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "long.idx"); }), "long.idx' goes on after the 5000 data bytes its header gives");
  // Bytes after the gzip data, which zlib's reader skips without a word: refused too, at any length.
  // ("\xef\xbe\xad\xde\x05\0\0\0": a trailer naming the content's last 5 bytes with a wrong CRC.)
  const std::string bad_trailer("\xef\xbe\xad\xde\x05\0\0\0", 8);
  for (const std::string tail : {std::string("x"), std::string(7, '\0'), std::string(8, '\0'), std::string(300, 'y'), bad_trailer}) {
    WriteText(dir / "tail.gz", gz + tail);
    SCOPED_TRACE(tail.size());
    EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "tail.gz"); }), "tail.gz' goes on after its gzip data");
  }
  WriteText(dir / "tail.gz", gz + gz.substr(0, 10));  // a second member's header alone: zlib's own error
  EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "tail.gz"); }), "tail.gz' is corrupt: ");
  // An empty member at the end (BGZF's end marker; cat a.gz empty.gz) is gzip too: read whole.
  {
    gzFile g = gzopen((dir / "empty.gz").c_str(), "wb");
    ASSERT_EQ(gzclose(g), Z_OK);
    std::ifstream e(dir / "empty.gz", std::ios::binary);
    const std::string empty((std::istreambuf_iterator<char>(e)), {});
    ASSERT_GE(empty.size(), 18u);  // a header and a trailer at least
    WriteText(dir / "end.gz", gz + empty);
    EXPECT_EQ(ReadIdx(dir / "end.gz").bytes.size(), 5000u);
  }
  // Members one after another (gzip -c a b > c) are one file's content, its last member as long or
  // short as it is: read whole.
  for (const size_t split : {size_t(3), size_t(16), size_t(2000)}) {
    const std::string raw = Idx({50, 100}, data);
    gzFile g = gzopen((dir / "two.gz").c_str(), "wb");
    ASSERT_EQ(gzwrite(g, raw.data(), unsigned(split)), int(split));
    ASSERT_EQ(gzclose(g), Z_OK);
    std::ifstream first(dir / "two.gz", std::ios::binary);
    const std::string a((std::istreambuf_iterator<char>(first)), {});
    g = gzopen((dir / "two.gz").c_str(), "wb");
    ASSERT_EQ(gzwrite(g, raw.data() + split, unsigned(raw.size() - split)), int(raw.size() - split));
    ASSERT_EQ(gzclose(g), Z_OK);
    std::ifstream second(dir / "two.gz", std::ios::binary);
    WriteText(dir / "two.gz", a + std::string((std::istreambuf_iterator<char>(second)), {}));
    SCOPED_TRACE(split);
    EXPECT_EQ(ReadIdx(dir / "two.gz").bytes, std::vector<uint8_t>(data.begin(), data.end()));
  }
}

}  // namespace
}  // namespace umbra::io::test
