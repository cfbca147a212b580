// The host memory tensors are checked against (memory.h): the machine's, or less where the
// process's memory cgroup allows less. In a container started with a memory limit (docker
// --memory 4g on a 24 GiB machine) a net past the limit passed the machine check and was killed
// by the OOM killer, without a word, when it touched its weights.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace umbra::detail {

/// A limit on host memory: bytes (0: none known) and what sets it, for messages.
struct HostLimit {
  size_t bytes = 0;
  std::string what;  // "this machine's" or "the memory cgroup's (FILE)"
};

/// The smallest memory limit of the cgroup at `path` (a line's path in /proc/self/cgroup) and its
/// ancestors, read under `root`: cgroup v2's memory.max where `v2`, else v1's
/// memory.limit_in_bytes under root/memory. A limit of "max", or past 2^62 (v1's "none"), or a
/// file that is not there is no limit. Every ancestor is read, so a namespaced view whose path is
/// not under root still finds the limit of root's own file.
inline HostLimit CgroupLimitAt(const std::string& root, std::string path, bool v2) {
  HostLimit best;
  const std::string base = v2 ? root : root + "/memory", file = v2 ? "memory.max" : "memory.limit_in_bytes";
  while (true) {
    const std::string at = base + (path == "/" ? "" : path) + "/" + file;
    std::ifstream in(at);
    std::string value;
    if (in >> value && value != "max") {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (end && *end == '\0' && v > 0 && v < (1ull << 62) && (best.bytes == 0 || v < best.bytes))
        best = {size_t(v), "the memory cgroup's (" + at + ")"};
    }
    if (path.empty() || path == "/") break;
    const size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return best;
}

/// The cgroup memory limit of this process, from `cgroup_text` (/proc/self/cgroup's lines
/// "id:controllers:path") read under `root` (/sys/fs/cgroup, where v2 may also sit in
/// root/unified); the smallest of v1's and v2's.
inline HostLimit CgroupLimit(const std::string& root, const std::string& cgroup_text) {
  HostLimit best;
  std::istringstream lines(cgroup_text);
  for (std::string line; std::getline(lines, line);) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::string list = "," + controllers + ",";
    HostLimit l;
    if (controllers.empty()) {
      l = CgroupLimitAt(root, path, true);
      const HostLimit u = CgroupLimitAt(root + "/unified", path, true);
      if (u.bytes && (!l.bytes || u.bytes < l.bytes)) l = u;
    } else if (list.find(",memory,") != std::string::npos) {
      l = CgroupLimitAt(root, path, false);
    }
    if (l.bytes && (!best.bytes || l.bytes < best.bytes)) best = l;
  }
  return best;
}

/// The limit host tensors are checked against: the machine's memory, or its cgroup's where that
/// is less. Read once.
inline const HostLimit& HostMemoryLimit() {
  static const HostLimit limit = [] {
    HostLimit l{size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGE_SIZE)), "this machine's"};
    std::ifstream in("/proc/self/cgroup");
    std::stringstream text;
    text << in.rdbuf();
    const HostLimit c = CgroupLimit("/sys/fs/cgroup", text.str());
    if (c.bytes && c.bytes < l.bytes) l = c;
    return l;
  }();
  return limit;
}

}  // namespace umbra::detail
