// The memory cgroup's limit, read from made-up mountinfo text and cgroup folders: v1 and v2, the
// smallest of a v2 cgroup and its ancestors, "max" and v1's huge "none" as no limit, and paths
// mapped through a mount that shows a folder below the hierarchy's root.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "umbra/tensor/host_memory.h"

namespace umbra {
namespace {

class FakeCgroupRoot {
 public:
  FakeCgroupRoot() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "umbra_cgroup_XXXXXX").string();
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);  // XXXXXX: mkdtemp's template, replaced by it
    root_ = tmpl;
  }
  ~FakeCgroupRoot() { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) const {
    const std::filesystem::path p = root_ + "/" + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

// mountinfo lines for a cgroup2 mount and a v1 memory mount of `root` (the folder of the
// hierarchy the mount shows) at `point`.
std::string V2Mount(const std::string& point, const std::string& root = "/") {
  return "40 30 0:37 " + root + " " + point + " rw,relatime - cgroup2 cgroup2 rw\n";
}
std::string V1Mount(const std::string& point, const std::string& root = "/") {
  return "34 30 0:31 " + root + " " + point + " rw,relatime - cgroup cgroup rw,memory\n";
}

TEST(HostMemory, CgroupV2LimitIsTheSmallestOfItsAncestors) {
  FakeCgroupRoot fs;
  fs.Write("memory.max", "max\n");
  fs.Write("a/memory.max", "4294967296\n");
  fs.Write("a/b/memory.max", "max\n");
  const std::string mi = "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" + V2Mount(fs.root());
  const detail::HostLimit l = detail::CgroupLimit(mi, "0::/a/b\n");
  EXPECT_EQ(l.bytes, size_t(4) << 30);
  EXPECT_EQ(l.what, "the memory cgroup's (" + fs.root() + "/a/memory.max)");
  fs.Write("a/b/memory.max", "1073741824\n");  // a deeper, smaller limit wins
  EXPECT_EQ(detail::CgroupLimit(mi, "0::/a/b\n").bytes, size_t(1) << 30);
  EXPECT_EQ(detail::CgroupLimit(mi, "0::/\n").bytes, 0u);  // none set
  EXPECT_EQ(detail::CgroupLimit("", "0::/a/b\n").bytes, 0u);  // no cgroup mounted
}

// v1: the kernel's hierarchical_memory_limit where memory.stat has it (an ancestor's limit binds
// only with use_hierarchy = 1, which the kernel folds into it), else the folder's own limit; v1's
// "no limit" (2^63 - 4096) is none. Other controllers' lines are not read.
TEST(HostMemory, CgroupV1LimitAndItsNoneValue) {
  FakeCgroupRoot fs;
  const std::string mi =
      V1Mount(fs.root() + "/memory") + "31 30 0:28 / " + fs.root() + "/cpu rw - cgroup cgroup rw,cpu\n";
  fs.Write("memory/memory.limit_in_bytes", "9223372036854771712\n");
  fs.Write("memory/docker/x/memory.limit_in_bytes", "3221225472\n");
  const std::string cg = "4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n";
  EXPECT_EQ(detail::CgroupLimit(mi, cg).bytes, size_t(3) << 30);
  fs.Write("memory/docker/x/memory.stat", "cache 0\nhierarchical_memory_limit 2147483648\nrss 0\n");
  EXPECT_EQ(detail::CgroupLimit(mi, cg).bytes, size_t(2) << 30);
  EXPECT_EQ(detail::CgroupLimit(mi, "4:cpu,memory:/docker/x\n").bytes, size_t(2) << 30);
  EXPECT_EQ(detail::CgroupLimit(mi, "4:memory:/\n").bytes, 0u);
  EXPECT_EQ(detail::CgroupLimit(mi, "3:cpu:/docker/x\n").bytes, 0u);
}

// A container's mount often shows its own cgroup as the mount's root: the path /docker/ID/job
// is the mount's job folder. A path outside the mount's root (a cgroup namespace's view) reads
// the mount's own folder; v2 beside v1 is mounted at unified/.
TEST(HostMemory, PathsAreMappedThroughTheMountsRoot) {
  FakeCgroupRoot fs;
  fs.Write("memory/memory.limit_in_bytes", "8589934592\n");
  fs.Write("memory/job/memory.limit_in_bytes", "268435456\n");
  EXPECT_EQ(detail::CgroupLimit(V1Mount(fs.root() + "/memory", "/docker/ID"), "4:memory:/docker/ID/job\n").bytes,
            size_t(256) << 20);
  EXPECT_EQ(detail::CgroupLimit(V1Mount(fs.root() + "/memory", "/docker/ID"), "4:memory:/elsewhere\n").bytes,
            size_t(8) << 30);
  FakeCgroupRoot v2;
  v2.Write("unified/memory.max", "1073741824\n");
  v2.Write("unified/c/memory.max", "max\n");
  EXPECT_EQ(detail::CgroupLimit(V2Mount(v2.root() + "/unified", "/kubepods/pod1"), "0::/kubepods/pod1/c\n").bytes,
            size_t(1) << 30);
  // /kubepods/pod10 is not under /kubepods/pod1 (a cut of the prefix would read unified0/).
  v2.Write("unified0/memory.max", "1024\n");
  EXPECT_EQ(detail::CgroupLimit(V2Mount(v2.root() + "/unified", "/kubepods/pod1"), "0::/kubepods/pod10\n").bytes,
            size_t(1) << 30);
  // Of two mounts of the hierarchy, the one whose root holds the path: a mount showing a sibling
  // cgroup (/other, 1 KiB) is not this process's.
  FakeCgroupRoot two;
  two.Write("mine/memory.max", "2097152\n");
  two.Write("other/memory.max", "1024\n");
  EXPECT_EQ(detail::CgroupLimit(V2Mount(two.root() + "/mine", "/a") + V2Mount(two.root() + "/other", "/b"), "0::/a\n")
                .bytes,
            size_t(2) << 20);
  // mountinfo writes a space in a path as \040.
  FakeCgroupRoot spaced;
  spaced.Write("a b/memory.max", "1048576\n");
  EXPECT_EQ(detail::CgroupLimit(V2Mount(spaced.root() + "/a\\040b"), "0::/\n").bytes, size_t(1) << 20);
  EXPECT_EQ(detail::MountinfoPath("/x\\040y\\134z\\04"), "/x y\\z\\04");
  // Text that is no limit: garbage, 0, an empty file.
  for (const char* v : {"lots\n", "0\n", ""}) {
    FakeCgroupRoot bad;
    bad.Write("memory.max", v);
    EXPECT_EQ(detail::CgroupLimit(V2Mount(bad.root()), "0::/\n").bytes, 0u) << v;
  }
}

// This process's limit is the machine's or less.
TEST(HostMemory, TheLimitIsAtMostTheMachinesMemory) {
  const detail::HostLimit& l = detail::HostMemoryLimit();
  EXPECT_GT(l.bytes, 0u);
  EXPECT_LE(l.bytes, size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGE_SIZE)));
  EXPECT_FALSE(l.what.empty());
}

}  // namespace
}  // namespace umbra
