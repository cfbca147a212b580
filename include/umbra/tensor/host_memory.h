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
#include <vector>

namespace umbra::detail {

/// A limit on host memory: bytes (0: none known) and what sets it, for messages.
struct HostLimit {
  size_t bytes = 0;
  std::string what;  // "this machine's" or "the memory cgroup's (FILE)"
};

/// A limit file's value: bytes, or 0 for none ("max", v1's values near 2^63, 0, text).
inline size_t CgroupLimitValue(const std::string& text) {
  std::istringstream in(text);
  std::string value;
  if (!(in >> value) || value == "max") return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
  return end && *end == '\0' && v > 0 && v < (1ull << 62) ? size_t(v) : 0;
}

inline std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The memory limit of the cgroup whose folder is `dir`, within the hierarchy mounted at `mount`
/// (dir is mount or below it). v2: the smallest memory.max of dir and its parents up to the
/// mount. v1: memory.stat's hierarchical_memory_limit, the kernel's own least of the hierarchy
/// (an ancestor's limit binds a child only with use_hierarchy = 1), else memory.limit_in_bytes
/// of dir alone.
inline HostLimit CgroupDirLimit(const std::string& mount, std::string dir, bool v2) {
  HostLimit best;
  const auto take = [&](size_t v, const std::string& file) {
    if (v && (!best.bytes || v < best.bytes)) best = {v, "the memory cgroup's (" + file + ")"};
  };
  if (!v2) {
    std::istringstream stat(ReadSmallFile(dir + "/memory.stat"));
    for (std::string key, value; stat >> key >> value;)
      if (key == "hierarchical_memory_limit") take(CgroupLimitValue(value), dir + "/memory.stat");
    const std::string own = dir + "/memory.limit_in_bytes";
    if (!best.bytes) take(CgroupLimitValue(ReadSmallFile(own)), own);
    return best;
  }
  while (true) {
    take(CgroupLimitValue(ReadSmallFile(dir + "/memory.max")), dir + "/memory.max");
    if (dir.size() <= mount.size()) break;
    dir = dir.substr(0, dir.rfind('/'));
  }
  return best;
}

/// A mountinfo path field as the path: the kernel writes a space, tab, newline and backslash
/// as \040, \011, \012 and \134.
inline std::string MountinfoPath(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    const auto digit = [&](size_t k) { return k < field.size() && field[k] >= '0' && field[k] <= '7'; };
    const bool octal = field[i] == '\\' && digit(i + 1) && digit(i + 2) && digit(i + 3);
    if (octal) {
      out += char((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

/// The cgroup memory limit of this process, from /proc/self/mountinfo's text (where each cgroup
/// hierarchy is mounted, and which of its folders the mount shows) and /proc/self/cgroup's
/// ("id:controllers:path"); the smallest of v1's memory hierarchy and v2's. A path is mapped
/// through its mount: a container's /sys/fs/cgroup/memory often shows its own cgroup
/// (/docker/ID) as the mount's root, so /docker/ID/job is the mount's job folder; of several
/// mounts of a hierarchy, the one whose root holds the path most closely (the last mounted of
/// equals). A path no mount holds (a namespace's view) reads the last mount's own folder.
inline HostLimit CgroupLimit(const std::string& mountinfo, const std::string& cgroup) {
  struct Mount {
    std::string root, point;
    bool v2;
  };
  std::vector<Mount> mounts;
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    for (std::string w; f >> w;) fields.push_back(w);
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || dash + 1 == fields.end()) continue;
    const std::string type = *(dash + 1), options = dash + 3 < fields.end() ? *(dash + 3) : "";
    if (type == "cgroup2" || (type == "cgroup" && ("," + options + ",").find(",memory,") != std::string::npos))
      mounts.push_back({MountinfoPath(fields[3]), MountinfoPath(fields[4]), type == "cgroup2"});
  }
  HostLimit best;
  std::istringstream cg(cgroup);
  for (std::string line; std::getline(cg, line);) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    const bool v2 = controllers.empty();
    if (!v2 && ("," + controllers + ",").find(",memory,") == std::string::npos) continue;
    const Mount* holder = nullptr;  // the mount whose root holds the path most closely
    const Mount* last = nullptr;
    std::string rel;
    for (const Mount& m : mounts) {
      if (m.v2 != v2) continue;
      last = &m;
      const std::string root = m.root == "/" ? "" : m.root;
      const bool under = path.compare(0, root.size(), root) == 0 &&
                         (path.size() == root.size() || path[root.size()] == '/');
      if (under && (!holder || root.size() >= (holder->root == "/" ? 0 : holder->root.size())))
        holder = &m, rel = path.substr(root.size());
    }
    if (!holder) holder = last, rel.clear();
    if (!holder) continue;
    if (rel == "/") rel.clear();
    const HostLimit l = CgroupDirLimit(holder->point, holder->point + rel, v2);
    if (l.bytes && (!best.bytes || l.bytes < best.bytes)) best = l;
  }
  return best;
}

/// The limit host tensors are checked against: the machine's memory, or its cgroup's where that
/// is less. Read once.
inline const HostLimit& HostMemoryLimit() {
  static const HostLimit limit = [] {
    HostLimit l{size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGE_SIZE)), "this machine's"};
    const HostLimit c = CgroupLimit(ReadSmallFile("/proc/self/mountinfo"), ReadSmallFile("/proc/self/cgroup"));
    if (c.bytes && c.bytes < l.bytes) l = c;
    return l;
  }();
  return limit;
}

}  // namespace umbra::detail
