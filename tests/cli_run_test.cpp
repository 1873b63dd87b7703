// `streamix detect` run in-process (run_cli) on what a hostile user gives it: empty and
// duplicate column items, directories, empty files, a FIFO and /dev/full as paths, NUL bytes
// in fields, a line of 20 MB, CR-only line endings, numbers that are not whole numbers, and
// limits that must be named. Each must end in a clear message and exit status, never a
// crash, an abort or silently wrong numbers.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"

namespace {

struct Outcome {
  int exit_status;
  std::string out, err;
};

Outcome run(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "streamix");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::istringstream in(input);
  std::ostringstream out, err;
  const int status =
      streamix::host::run_cli(static_cast<int>(argv.size()), argv.data(), in, out, err);
  return {status, out.str(), err.str()};
}

// A directory of this process's own: ctest runs this binary once per kernel configuration,
// several at a time, and shared names in TempDir() let one run rewrite another's files.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "streamix_cli_XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    for (const std::string& file : files_) std::remove(file.c_str());
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // The path of `name` in this directory, removed with it.
  std::string file(const std::string& name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

ScratchDir& scratch() {
  static ScratchDir dir;
  return dir;
}

// A file in the scratch directory, written with `text`.
std::string scratch_file(const std::string& name, const std::string& text) {
  const std::string path = scratch().file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// 300 rows of two columns a, b: enough for a warm-up of 50 and some scored rows.
std::string two_columns() {
  std::string csv = "a,b\n";
  for (int i = 0; i < 300; ++i)
    csv += std::to_string(20 + (i * 7) % 5) + "," + std::to_string(100 + (i * 3) % 7) + "\n";
  return csv;
}

const std::vector<std::string> kQuick = {"--init-samples", "50", "--calibration", "20"};

std::vector<std::string> detect(std::vector<std::string> more) {
  std::vector<std::string> args = {"detect"};
  args.insert(args.end(), kQuick.begin(), kQuick.end());
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(CliRun, EmptyOrDuplicateColumnItemsAreUsageErrors) {
  for (const char* list : {",a", "a,,b", "a,", ","}) {
    for (bool echo : {false, true}) {
      std::vector<std::string> args = detect({"--columns", list});
      if (echo) args.push_back("--echo");
      args.push_back("-");
      const Outcome r = run(args, two_columns());
      EXPECT_EQ(r.exit_status, 2) << list;
      EXPECT_NE(r.err.find(std::string("--columns: empty item in '") + list + "'"), std::string::npos)
          << r.err;
      EXPECT_TRUE(r.out.empty());
    }
  }
  for (const char* list : {"a,a", "a,1", "2,b"}) {
    const Outcome r = run(detect({"--columns", list, "-"}), two_columns());
    EXPECT_EQ(r.exit_status, 2) << list;
    EXPECT_NE(r.err.find("is given twice"), std::string::npos) << r.err;
  }
}

TEST(CliRun, PathsThatAreNotFilesGetAMessageAndExit1) {
  const std::string dir = scratch().path();
  ASSERT_FALSE(dir.empty());
  const std::string data = scratch_file("data.csv", two_columns());
  const std::string empty = scratch_file("empty.smx", "");
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {detect({"--load-model", dir, data}), "is a directory"},
      {detect({"--load-model", empty, data}), "is empty"},
      {detect({"--load-model", "/dev/full", data}), "snapshot"},  // reads zeros: not a snapshot
      {detect({"--time", "a", "--windows", dir, data}), "is a directory"},
      {detect({"--time", "a", "--windows", empty, data}), "is empty"},
      {detect({dir}), "is a directory"},
      {detect({"--save-model", "/dev/full", "--output", "/dev/null", data}),
       "No space left on device"},
      {detect({"--output", "/dev/full", data}), "No space left on device"},
      {detect({"--output", dir, data}), "cannot write"},
      {detect({dir + "/no/such/file.csv"}), "No such file or directory"},
      // Endless lines without an end of line: reported at the 1 MiB limit, not read forever.
      {detect({"/dev/full"}), "line 1: longer than 1048576 bytes"},
      {detect({"/dev/zero"}), "line 1: longer than 1048576 bytes"},
  };
  for (const Case& c : cases) {
    const Outcome r = run(c.args);
    EXPECT_EQ(r.exit_status, 1) << c.args[c.args.size() - 1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
  }
  // The empty model file no longer says "invalid argument (null pointer...)".
  EXPECT_EQ(run(detect({"--load-model", empty, data})).err.find("null pointer"), std::string::npos);
}

TEST(CliRun, AFifoIsReadLikeAFile) {
  ASSERT_FALSE(scratch().path().empty());
  const std::string fifo = scratch().file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string text = two_columns();
  std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << text; });
  const Outcome r = run(detect({"--output", "/dev/null", fifo}));
  writer.join();
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("300 rows"), std::string::npos) << r.err;
  std::remove(fifo.c_str());
}

TEST(CliRun, ANulByteMakesAFieldNotANumber) {
  std::string csv = two_columns();
  csv += std::string("3\0" "9,100\n", 7);
  Outcome r = run(detect({"-"}), csv);
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("line 302: column 'a' is not a number: '3\\x009'"), std::string::npos) << r.err;
  csv = two_columns() + std::string("5\0garbage,100\n", 14);
  r = run(detect({"--on-bad-row=skip", "-"}), csv);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_NE(r.err.find("1 skipped"), std::string::npos) << r.err;
}

TEST(CliRun, OneHugeLineCostsBoundedMemoryAndAShortMessage) {
  // 20 MB of "1,1,1,...": 10 M fields on one line.
  std::string csv = "a,b\n1,2\n";
  csv.reserve(csv.size() + 20'000'002);
  for (int i = 0; i < 10'000'000; ++i) csv += "1,";
  csv += "1\n";
  Outcome r = run(detect({"-"}), csv);
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("line 3: longer than 1048576 bytes"), std::string::npos);
  EXPECT_LT(r.err.size(), 300u) << "the message echoed the line";
  // One 100 KB field: the message shows 40 bytes of it and its length.
  csv = two_columns() + std::string(100000, 'x') + ",1\n";
  r = run(detect({"-"}), csv);
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("... (100000 bytes)"), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 300u);
}

TEST(CliRun, CarriageReturnLineEndingsAreLines) {
  std::string csv = two_columns();
  for (char& c : csv) {
    if (c == '\n') c = '\r';
  }
  const Outcome r = run(detect({"-"}), csv);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("300 rows (50 warm-up"), std::string::npos) << r.err;
}

TEST(CliRun, CountsAndLimitsAreCheckedAndNamed) {
  for (const char* bad : {" -1", "-1", "+3", "1e3", "0x10", "", "18446744073709551616"}) {
    const Outcome r = run(detect({"--learn-rows", bad, "-"}), two_columns());
    EXPECT_EQ(r.exit_status, 2) << "'" << bad << "'";
    EXPECT_NE(r.err.find("--learn-rows"), std::string::npos);
  }
  Outcome r = run(detect({"--components", "0", "-"}), two_columns());
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("--components 0: must be 1 to 1024"), std::string::npos) << r.err;
  std::string wide;
  for (int c = 0; c < 5000; ++c) wide += (c ? "," : "") + std::to_string(c % 10);
  r = run(detect({"--no-header", "-"}), wide + "\n" + wide + "\n");
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("5000 feature columns with 1 view(s): at most 4096"), std::string::npos)
      << r.err;
  r = run(detect({"--alarm-rate", "0x1p-5", "-"}), two_columns());  // hex: not a number here
  EXPECT_EQ(r.exit_status, 2);
}

TEST(CliRun, ATooFarReadingIsRejectedWithItsReason) {
  const Outcome r = run(detect({"-"}), two_columns() + "1e39,1\n");
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("is beyond the float range"), std::string::npos) << r.err;
}

}  // namespace
