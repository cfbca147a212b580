// Built only when OpenCV or libjpeg was not found (src/io/CMakeLists.txt): the image iterator names stay
// known, so a config using them fails with the reason instead of "unknown iterator".
#include "umbra/io/iterator.h"

namespace umbra::io {
namespace {

template <const char* kName>
std::unique_ptr<DataIterator> NoOpenCv() {
  UMBRA_THROW("iterator '", kName, "' needs OpenCV and libjpeg, but umbra was built without them ",
              "(install libopencv-dev and libjpeg-dev, scripts/setup does, and reconfigure)");
}
constexpr char kImg[] = "img", kRec[] = "imgrec", kBin[] = "imgbin";
const bool kRegistered = RegisterIterator("img", NoOpenCv<kImg>) && RegisterIterator("imgrec", NoOpenCv<kRec>) &&
                         RegisterIterator("imgbin", NoOpenCv<kBin>);

}  // namespace
}  // namespace umbra::io
