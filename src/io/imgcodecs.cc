// Codecs() (imgcodecs.h): the plugin is looked for in lib/ beside the running program or one
// folder up (build/umbra and build/tests/io_tests find build/lib, wherever the tree was moved or
// copied), then where this build wrote it, then by its plain name (LD_LIBRARY_PATH, the loader's
// cache). Tests build this file for names no machine has (imgcodecs_absent_test).
#include "imgcodecs.h"

#include <dlfcn.h>

#include <filesystem>
#include <system_error>
#include <vector>

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

std::vector<std::string> Candidates() {
  std::vector<std::string> names;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.has_parent_path())
    for (const char* up : {"lib", "../lib"})
      names.push_back((exe.parent_path() / up / UMBRA_IMGCODECS_SONAME).lexically_normal().string());
  names.push_back(UMBRA_IMGCODECS_PLUGIN);
  names.push_back(UMBRA_IMGCODECS_SONAME);
  return names;
}

Loaded Open() {
  Loaded l;
  const auto why = [&l](const std::string& reason) { l.error += (l.error.empty() ? "" : "; ") + reason; };
  for (const std::string& name : Candidates()) {
    void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      why(dlerror());
      continue;
    }
    auto* entry = reinterpret_cast<decltype(&umbra_imgcodecs_v2)>(dlsym(handle, "umbra_imgcodecs_v2"));
    if (entry) {
      l.codecs = entry();
      return l;
    }
    why(name + " has no umbra_imgcodecs_v2 (a plugin of another umbra)");
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
