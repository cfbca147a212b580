// src/io/imgcodecs.cc built for plugin names no machine has (tests/CMakeLists.txt): the first
// decode is one umbra::Error that names the plugin and each place the loader looked, and every
// later call gives the same error (the failed open is not retried into a different answer).
#include <gtest/gtest.h>

#include "src/io/imgcodecs.h"
#include "umbra/logging.h"

namespace {

TEST(ImgCodecsAbsent, TheErrorNamesThePluginAndTheLoadersReason) {
  std::string first;
  try {
    umbra::io::Codecs();
    FAIL() << "the codecs opened from names no machine has";
  } catch (const umbra::Error& e) {
    first = e.what();
  }
  EXPECT_NE(first.find("cannot open OpenCV's image codecs (libumbra_imgcodecs_absent.so"), std::string::npos) << first;
  EXPECT_NE(first.find("/tests/lib/libumbra_imgcodecs_absent.so: cannot open"), std::string::npos) << first;  // beside
  EXPECT_NE(first.find("/lib/libumbra_imgcodecs_absent.so: cannot open"), std::string::npos) << first;  // one up
  EXPECT_NE(first.find("absent/libumbra_imgcodecs.so: cannot open shared object file"), std::string::npos) << first;
  EXPECT_NE(first.find("libumbra_imgcodecs_absent.so: cannot open shared object file"), std::string::npos) << first;
  try {
    umbra::io::Codecs();
    FAIL() << "the second call found codecs";
  } catch (const umbra::Error& e) {
    EXPECT_EQ(std::string(e.what()), first);
  }
}

}  // namespace
