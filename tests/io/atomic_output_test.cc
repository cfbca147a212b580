// AtomicOutput (include/umbra/atomic_output.h), the one writer behind models, results, logs,
// mean images and record files: the old file survives every failure, no temporary is left
// behind, and what is no regular file is written in place.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "harness/file_size_limit.h"
#include "io_test_util.h"
#include "umbra/atomic_output.h"
#include "umbra/io/record.h"
#include "umbra/logging.h"

namespace umbra::io::test {
namespace {

// Names of the folder's entries that look like an AtomicOutput temporary.
std::vector<std::string> TemporariesIn(const TempDir& dir) {
  std::vector<std::string> found;
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    if (f.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(f.path().filename());
  return found;
}

}  // namespace

TEST(AtomicOutput, ReplacesWholeOrNotAtAll) {
  TempDir dir;
  const std::string path = dir / "out.txt";
  WriteText(path, "old");
  {
    AtomicOutput file(path);
    file.out() << "new";
    EXPECT_EQ(ReadBytes(path), "old") << "the file changed before Commit";
    file.Commit(/*sync=*/true);
  }
  EXPECT_EQ(ReadBytes(path), "new");
  {  // an error on the way: no Commit
    AtomicOutput file(path);
    file.out() << "half";
  }
  EXPECT_EQ(ReadBytes(path), "new");
  EXPECT_TRUE(TemporariesIn(dir).empty());
  // A full disk: the write fails at Commit, which says so, and the old file stays.
  {
    const umbra::test::FileSizeLimit limit(4096);
    AtomicOutput file(path, /*binary=*/true, "result file");
    file.out() << std::string(1 << 20, 'x');
    EXPECT_HAS(ErrorOf([&] { file.Commit(); }),
               "writing result file '" + path + "' failed (disk full?); it is left as it was");
  }
  EXPECT_EQ(ReadBytes(path), "new");
  EXPECT_TRUE(TemporariesIn(dir).empty());
  // A name of 250 bytes: NAME.tmp.PID is past 255, so the temporary takes a shortened NAME (no
  // temporary could be opened, so the file was truncated at once and lost on an error).
  const std::string longer = dir / std::string(250, 'n');
  WriteText(longer, "old");
  {
    AtomicOutput file(longer);
    file.out() << "half";
    EXPECT_EQ(ReadBytes(longer), "old") << "truncated before Commit";
  }
  EXPECT_EQ(ReadBytes(longer), "old");
  {
    AtomicOutput file(longer);
    file.out() << "new";
    file.Commit();
  }
  EXPECT_EQ(ReadBytes(longer), "new");
  EXPECT_TRUE(TemporariesIn(dir).empty());
  // A folder that does not exist: one error naming the file and the reason.
  EXPECT_HAS(ErrorOf([&] { AtomicOutput file(dir / "no/such/out.txt", false, "result file"); }),
             "cannot write result file '" + (dir / "no/such/out.txt") + "': No such file or directory");
  // A write that fails as the file is closed names the system's reason (/proc/version as root
  // gave EIO, said "(disk full?)"); /dev/full is written in place, so only its last buffer fails.
  {
    AtomicOutput file("/dev/full", false, "result file");
    file.out() << "x";
    EXPECT_HAS(ErrorOf([&] { file.Commit(); }), "writing result file '/dev/full' failed: No space left on device");
  }
}

// Ctrl-C (or a kill) in the middle of a write: with the CLI's handler, the temporaries being
// written go and the process still ends by the signal; one already committed stays.
TEST(AtomicOutput, ASignalRemovesTheTemporariesBeingWritten) {
  TempDir dir;
  WriteText(dir / "old.txt", "old");
  const auto interrupted_writer = [&](int sig) {
    RemoveTemporariesOnSignal();
    AtomicOutput done(dir / "done.txt");
    done.out() << "done";
    done.Commit();
    AtomicOutput a(dir / "old.txt"), b(dir / "new.bin", /*binary=*/true);
    a.out() << "half" << std::flush;
    b.out() << "half" << std::flush;
    if (TemporariesIn(dir).size() != 2) std::exit(2);  // the test would prove nothing
    raise(sig);
    std::exit(3);
  };
  for (int sig : {SIGINT, SIGTERM}) {
    EXPECT_EXIT(interrupted_writer(sig), ::testing::KilledBySignal(sig), "");
    EXPECT_TRUE(TemporariesIn(dir).empty());
    EXPECT_EQ(ReadBytes(dir / "old.txt"), "old");
    EXPECT_FALSE(std::filesystem::exists(dir / "new.bin"));
    EXPECT_EQ(ReadBytes(dir / "done.txt"), "done");
  }
}

// A symlink to a file: the file it names is replaced whole or not at all (it was truncated as
// soon as the writer opened it, so a failed pred or a resumed log lost it), and the link stays.
TEST(AtomicOutput, WritesThroughASymlinkWholeOrNotAtAll) {
  TempDir dir;
  std::filesystem::create_directory(dir / "real");
  WriteText(dir / "real/target.txt", "old");
  std::filesystem::create_symlink("real/target.txt", dir / "link.txt");  // relative, as users make them
  {
    AtomicOutput file(dir / "link.txt");
    file.out() << "half";
  }
  EXPECT_EQ(ReadBytes(dir / "real/target.txt"), "old");
  {
    AtomicOutput file(dir / "link.txt");
    file.out() << "new";
    EXPECT_EQ(ReadBytes(dir / "real/target.txt"), "old") << "the file changed before Commit";
    file.Commit();
  }
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "link.txt")) << "the link was replaced by a file";
  EXPECT_EQ(ReadBytes(dir / "real/target.txt"), "new");
  EXPECT_TRUE(TemporariesIn(dir).empty());
  for (const auto& f : std::filesystem::directory_iterator(dir / "real"))
    EXPECT_EQ(f.path().filename(), "target.txt") << "a temporary was left beside the target";
}

// A file that may be written in a folder that takes no new file (no room for a temporary): the
// bytes wait elsewhere and replace the file at Commit; without one the file is untouched, and
// where the copy fails half-way the temporary holding them is kept and named. Run
// as an unprivileged user (root writes into any folder), in a child process when run as root.
TEST(AtomicOutput, AFolderWithoutRoomForATemporaryKeepsTheFile) {
  TempDir dir;
  std::filesystem::create_directory(dir / "ro");
  WriteText(dir / "ro/out.txt", "old");
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  std::filesystem::permissions(dir / "ro/out.txt", std::filesystem::perms(0666));
  std::filesystem::permissions(dir / "ro", std::filesystem::perms(0555));
  const auto check = [&] {
    if (::geteuid() == 0 && ::setuid(65534) != 0) std::exit(9);
    if (std::ofstream(dir / "ro/probe") || ReadBytes(dir / "ro/out.txt") != "old") std::exit(8);  // test void
    {
      AtomicOutput file(dir / "ro/out.txt");
      file.out() << "half";
      if (ReadBytes(dir / "ro/out.txt") != "old") std::exit(2);  // truncated before Commit
    }
    if (ReadBytes(dir / "ro/out.txt") != "old") std::exit(3);
    {
      AtomicOutput file(dir / "ro/out.txt");
      file.out() << "new";
      file.Commit(/*sync=*/true);
      if (ReadBytes(dir / "ro/out.txt") != "new") std::exit(4);
    }
    for (const auto& f : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
      if (f.path().filename().string() == "out.txt.tmp." + std::to_string(::getpid())) std::exit(5);  // left
    // A copy over the file that fails half-way (a full disk: here a file size limit) keeps the
    // whole bytes in the temporary, named in the error (it was removed: the file was lost).
    std::string err;
    {  // the writer gone before the temporary is looked for: its destructor removed it
      AtomicOutput file(dir / "ro/out.txt");
      file.out() << std::string(100, 'x') << std::flush;  // in the temporary before the limit
      umbra::test::FileSizeLimit full(10);
      err = ErrorOf([&] { file.Commit(); });
    }
    const std::string said = "; the whole file is kept in '";
    const size_t at = err.find(said);
    if (at == std::string::npos || err.back() != '\'') std::exit(6);
    const std::string tmp = err.substr(at + said.size(), err.size() - at - said.size() - 1);
    const bool whole = ReadBytes(tmp) == std::string(100, 'x');
    std::filesystem::remove(tmp);
    std::exit(whole ? 0 : 7);
  };
  EXPECT_EXIT(check(), ::testing::ExitedWithCode(0), "");
  std::filesystem::permissions(dir / "ro", std::filesystem::perms(0755));
}

TEST(AtomicOutput, RecordFileIsLeftOnlyWhenClosed) {
  TempDir dir;
  const Record r{7, {1.f}, "payload"};
  {
    RecordWriter w(dir / "a.rec");
    w.Write(r);
  }  // never closed: an error on the way
  EXPECT_FALSE(std::filesystem::exists(dir / "a.rec"));
  EXPECT_TRUE(TemporariesIn(dir).empty());
  RecordWriter w(dir / "a.rec");
  w.Write(r);
  w.Close();
  RecordReader in(dir / "a.rec");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in.Read(0).payload, "payload");
}

}  // namespace umbra::io::test
