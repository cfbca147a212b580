// libFuzzer target: the cxxnet config parser must turn any bytes into entries or one
// umbra::Error, never crash, hang or read out of bounds (built with ASan/UBSan by clang).
#include <cstddef>
#include <cstdint>
#include <string>

#include "umbra/config/config.h"
#include "umbra/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto entries = umbra::config::ParseConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz.conf");
    for (const auto& e : entries)
      if (e.key.empty()) __builtin_trap();  // the parser promises a name for every entry
  } catch (const umbra::Error&) {
  }
  return 0;
}
