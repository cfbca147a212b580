// Whole-text numbers (umbra/parse.h) and the layer keys read through them: trailing junk, empty
// text, values past the type's range and non-finite floats are refused, naming the key.
// Also the suggestions for unknown keys (umbra/suggest.h).
#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "harness/tensor_util.h"
#include "umbra/nn/registry.h"
#include "umbra/parse.h"
#include "umbra/suggest.h"

namespace umbra {
namespace {

TEST(Parse, IntegersWholeTextAndInRange) {
  EXPECT_EQ(ParseInteger("42"), 42);
  EXPECT_EQ(ParseInteger("-7"), -7);
  EXPECT_EQ(ParseInteger("+3"), 3);
  EXPECT_EQ(ParseInteger("9223372036854775807"), LLONG_MAX);
  for (const char* bad : {"", "12abc", "1.5", "0x10", "abc", "1 ", "9223372036854775808", "-9223372036854775809"})
    EXPECT_FALSE(ParseInteger(bad).has_value()) << bad;
  EXPECT_EQ(ParseInteger("5", 5, 5), 5);
  EXPECT_FALSE(ParseInteger("4", 5, 9).has_value());
  EXPECT_FALSE(ParseInteger("10", 5, 9).has_value());
  EXPECT_FALSE(ParseInteger("-1", 0).has_value());
}

TEST(Parse, RealsWholeText) {
  EXPECT_EQ(ParseReal("1.5"), 1.5);
  EXPECT_EQ(ParseReal("-2e3"), -2000.0);
  EXPECT_EQ(ParseReal("7"), 7.0);
  EXPECT_TRUE(std::isinf(*ParseReal("inf")));  // finiteness is the caller's to judge
  for (const char* bad : {"", "1.5x", "abc", "1,5", "2e"}) EXPECT_FALSE(ParseReal(bad).has_value()) << bad;
  // strtod's hexadecimal forms are numbers to data files, and said so to config readers.
  for (const char* hex : {"0x10", "-0x1p3", " 0X1", "+0x0"}) {
    EXPECT_TRUE(ParseReal(hex).has_value()) << hex;
    EXPECT_TRUE(SpellsHex(hex)) << hex;
  }
  for (const char* dec : {"0", "10", "-0.5e1", "x10", "0.x"}) EXPECT_FALSE(SpellsHex(dec)) << dec;
  EXPECT_TRUE(SpellsNonzero("1e-400"));
  EXPECT_TRUE(SpellsNonzero("0.0001e-50"));
  for (const char* zero : {"0", "-0.000", "0e5", "0e-17"}) EXPECT_FALSE(SpellsNonzero(zero)) << zero;
}

TEST(Parse, LayerKeysRefuseJunkRangeAndNonFinite) {
  auto fullc = nn::LayerRegistry<cpu>::Get().Create("fullc");
  fullc->set_name("fc1");
  for (const char* bad : {"", "12abc", "2147483648", "-99999999999999999999"}) {
    const std::string m = test::ErrorOf([&] { fullc->SetParam("nhidden", bad); });
    EXPECT_NE(m.find("nhidden"), std::string::npos) << bad << ": " << m;
    EXPECT_NE(m.find("an integer"), std::string::npos) << bad << ": " << m;
  }
  EXPECT_TRUE(fullc->SetParam("nhidden", "2147483647"));
  // An integer past the field's range says the range (it said "expected an integer").
  EXPECT_NE(test::ErrorOf([&] { fullc->SetParam("nhidden", "3000000000"); })
                .find("bad value '3000000000' for key 'nhidden': expected an integer in [-2147483648, 2147483647]"),
            std::string::npos);
  auto elu = nn::LayerRegistry<cpu>::Get().Create("elu");
  // nan, inf and 1e39 (inf as a float) would have reached every output without a word.
  for (const char* bad : {"nan", "inf", "-inf", "1e39", "0.5x"}) {
    const std::string m = test::ErrorOf([&] { elu->SetParam("alpha", bad); });
    EXPECT_NE(m.find("alpha"), std::string::npos) << bad << ": " << m;
    EXPECT_NE(m.find("a finite number"), std::string::npos) << bad << ": " << m;
  }
  EXPECT_TRUE(elu->SetParam("alpha", "1e-3"));
  // A value a float holds as 0 (alpha = 1e-50) was 0, unsaid; 0 itself is kept, a denormal
  // refused (the CPU flushes it to 0: adam's eps = 1e-39 made 0/0).
  for (const char* tiny : {"1e-50", "1e-400"})
    EXPECT_NE(test::ErrorOf([&] { elu->SetParam("alpha", tiny); })
                  .find("for key 'alpha': expected a number a float holds (this one rounds to 0)"),
              std::string::npos) << tiny;
  // eta = 0x10 read as 16 is more likely a slip than a wish.
  EXPECT_NE(test::ErrorOf([&] { elu->SetParam("alpha", "0x10"); })
                .find("bad value '0x10' for key 'alpha': expected a decimal number (hexadecimal is not read)"),
            std::string::npos);
  EXPECT_TRUE(elu->SetParam("alpha", "0"));
  EXPECT_HAS(test::ErrorOf([&] { elu->SetParam("alpha", "1e-40"); }),
             "bad value '1e-40' for key 'alpha': expected a number a float holds at full precision (this one is below "
             "1.18e-38, which umbra's CPU arithmetic flushes to 0)");
  EXPECT_TRUE(elu->SetParam("alpha", "1.2e-38"));
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

// Unknown keys suggest the closest known one when it is a likely typo, and nothing otherwise.
TEST(DidYouMean, TyposOnly) {
  EXPECT_EQ(EditDistance("momentun", "momentum"), 1u);
  EXPECT_EQ(EditDistance("mometnum", "momentum"), 1u);  // two letters swapped: one edit
  EXPECT_EQ(EditDistance("num_rnd", "num_round"), 2u);
  EXPECT_EQ(DidYouMean("num_rnd", {"num_round", "max_round"}), "; did you mean 'num_round'?");
  EXPECT_EQ(DidYouMean("shufle", {"shuffle", "silent"}), "; did you mean 'shuffle'?");
  EXPECT_EQ(DidYouMean("colour", {"nhidden", "kernel_size"}), "");
  EXPECT_EQ(DidYouMean("ab", {"xy", "abc"}), "; did you mean 'abc'?");
  EXPECT_EQ(DidYouMean("abcd", {"abxy"}), "");  // two of four letters: no longer a typo
}

}  // namespace
}  // namespace umbra
