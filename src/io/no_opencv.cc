// Built only when OpenCV was not found (src/io/CMakeLists.txt): the image iterator names stay
// known, so a config using them fails with the reason instead of "unknown iterator".
#include "umbra/io/iterator.h"

namespace umbra::io {
namespace {

template <const char* kName>
std::unique_ptr<DataIterator> NoOpenCv() {
  UMBRA_THROW("iterator '", kName, "' needs OpenCV, but umbra was built without OpenCV ",
              "(install libopencv-dev and reconfigure)");
}
constexpr char kImg[] = "img", kRec[] = "imgrec", kBin[] = "imgbin";
const bool kRegistered = RegisterIterator("img", NoOpenCv<kImg>) && RegisterIterator("imgrec", NoOpenCv<kRec>) &&
                         RegisterIterator("imgbin", NoOpenCv<kBin>);

}  // namespace
}  // namespace umbra::io
