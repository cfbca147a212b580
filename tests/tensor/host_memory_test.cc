// The memory cgroup's limit, read from a made-up /sys/fs/cgroup tree: v1 and v2 layouts, the
// smallest of a cgroup and its ancestors, "max" and v1's huge "none" as no limit, and a
// namespaced view whose path is not under the root.
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

TEST(HostMemory, CgroupV2LimitIsTheSmallestOfItsAncestors) {
  FakeCgroupRoot fs;
  fs.Write("memory.max", "max\n");
  fs.Write("a/memory.max", "4294967296\n");
  fs.Write("a/b/memory.max", "max\n");
  const detail::HostLimit l = detail::CgroupLimit(fs.root(), "0::/a/b\n");
  EXPECT_EQ(l.bytes, size_t(4) << 30);
  EXPECT_EQ(l.what, "the memory cgroup's (" + fs.root() + "/a/memory.max)");
  // A deeper, smaller limit wins.
  fs.Write("a/b/memory.max", "1073741824\n");
  EXPECT_EQ(detail::CgroupLimit(fs.root(), "0::/a/b\n").bytes, size_t(1) << 30);
  // None set: no limit.
  EXPECT_EQ(detail::CgroupLimit(fs.root(), "0::/\n").bytes, 0u);
}

TEST(HostMemory, CgroupV1LimitAndItsNoneValue) {
  FakeCgroupRoot fs;
  fs.Write("memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1's "no limit"
  fs.Write("memory/docker/x/memory.limit_in_bytes", "2147483648\n");
  const std::string cg = "4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n0::/\n";
  EXPECT_EQ(detail::CgroupLimit(fs.root(), cg).bytes, size_t(2) << 30);
  EXPECT_EQ(detail::CgroupLimit(fs.root(), "4:memory:/\n").bytes, 0u);
  // A controller list that holds memory among others.
  EXPECT_EQ(detail::CgroupLimit(fs.root(), "4:cpu,memory:/docker/x\n").bytes, size_t(2) << 30);
}

// In a cgroup namespace the path names the host's hierarchy, which the mount does not show: the
// root's own file (the container's cgroup) still counts. v2 beside v1 sits in unified/.
TEST(HostMemory, NamespacedPathFallsBackToTheRootsFile) {
  FakeCgroupRoot fs;
  fs.Write("memory.max", "536870912\n");
  EXPECT_EQ(detail::CgroupLimit(fs.root(), "0::/system.slice/not-here\n").bytes, size_t(512) << 20);
  FakeCgroupRoot hybrid;
  hybrid.Write("unified/memory.max", "536870912\n");
  EXPECT_EQ(detail::CgroupLimit(hybrid.root(), "0::/\n").bytes, size_t(512) << 20);
  // Text that is no limit: garbage, 0, an empty file.
  for (const char* v : {"lots\n", "0\n", ""}) {
    FakeCgroupRoot bad;
    bad.Write("memory.max", v);
    EXPECT_EQ(detail::CgroupLimit(bad.root(), "0::/\n").bytes, 0u) << v;
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
