// Codecs() (imgcodecs.h): the plugin is looked for where this build wrote it, then by its plain
// name (LD_LIBRARY_PATH, the program's run path, the loader's cache), for a build tree that was
// moved. Tests build this file for names no machine has (imgcodecs_absent_test).
#include "imgcodecs.h"

#include <dlfcn.h>

#include "umbra/logging.h"

#ifndef UMBRA_IMGCODECS_PLUGIN
#error "UMBRA_IMGCODECS_PLUGIN (the plugin's path in the build tree) is set by src/io/CMakeLists.txt"
#endif
#ifndef UMBRA_IMGCODECS_SONAME
#define UMBRA_IMGCODECS_SONAME "libumbra_imgcodecs.so"
#endif

namespace umbra::io {
namespace {

struct Loaded {
  const ImgCodecs* codecs = nullptr;
  std::string error;  // why the plugin did not open
};

Loaded Open() {
  Loaded l;
  for (const char* name : {UMBRA_IMGCODECS_PLUGIN, UMBRA_IMGCODECS_SONAME}) {
    void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      l.error += (l.error.empty() ? "" : "; ") + std::string(dlerror());
      continue;
    }
    auto* entry = reinterpret_cast<decltype(&umbra_imgcodecs)>(dlsym(handle, "umbra_imgcodecs"));
    if (entry) {
      l.codecs = entry();
      return l;
    }
    l.error += (l.error.empty() ? "" : "; ") + std::string(name) + " has no umbra_imgcodecs";
    dlclose(handle);
  }
  return l;
}

}  // namespace

const ImgCodecs& Codecs() {
  // Never destroyed: a static's destructor that decodes an image at exit still finds it.
  static const Loaded& lib = *new Loaded(Open());
  UMBRA_CHECK(lib.codecs, "cannot open OpenCV's image codecs (" UMBRA_IMGCODECS_SONAME
              ", opened at the first image decoded or encoded): ", lib.error);
  return *lib.codecs;
}

}  // namespace umbra::io
