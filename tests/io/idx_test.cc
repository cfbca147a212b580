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
  EXPECT_HAS(m, "big.idx' is truncated");
  WriteText(dir / "bad.idx", "\x01\x02\x03\x04");
  EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "bad.idx"); }), "not an unsigned-byte idx file");
}

}  // namespace
}  // namespace umbra::io::test
