// libFuzzer target: the whole `streamix detect` command in-process (run_cli), arguments and
// input together. The bytes before the first "\0\0" are the arguments (NUL-separated, after
// "detect"), the rest is standard input. Paths are not the fuzzer's to choose: an option that
// names a file to read gets one of a few fixed ones (a directory, /dev/null, a missing file),
// one that names a file to write gets /dev/null or /dev/full, and the input is always stdin.
// Nothing may crash or abort (ASan, UBSan); the exit status is 0, 1 or 2; every message line
// is bounded (fields are echoed cut to 40 bytes).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "fuzz_require.h"

namespace {

bool takes_path_to_read(const std::string& name) { return name == "load-model" || name == "windows"; }
bool is_flag(const std::string& name) {
  return name == "header" || name == "no-header" || name == "quiet" || name == "echo" ||
         name == "help" || name == "line-buffered" || name == "strict" || name == "summary-per-key";
}
bool takes_path_to_write(const std::string& name) { return name == "output" || name == "save-model"; }

// The option name of "--name" or "--name=value".
std::string name_of(const std::string& arg) {
  return arg.compare(0, 2, "--") == 0 ? arg.substr(2, arg.find('=') - 2) : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const size_t split = bytes.find(std::string("\0\0", 2));
  const std::string arguments = split == std::string::npos ? std::string() : bytes.substr(0, split);
  const std::string input = split == std::string::npos ? bytes : bytes.substr(split + 2);

  const char* const reads[] = {"/", "/dev/null", "/nonexistent/streamix-fuzz"};
  const char* const writes[] = {"/dev/null", "/dev/full"};
  std::vector<std::string> args = {"streamix", "detect"};
  std::string pending;  // an option whose value is the next argument
  bool value_next = false;
  size_t start = 0;
  while (start < arguments.size() && args.size() < 64) {
    size_t end = arguments.find('\0', start);
    if (end == std::string::npos) end = arguments.size();
    std::string arg = arguments.substr(start, end - start);
    start = end + 1;
    const std::string name = name_of(arg);
    const uint8_t pick = arg.empty() ? 0 : static_cast<uint8_t>(arg.back());
    if (!pending.empty()) {
      arg = takes_path_to_read(pending) ? reads[pick % 3] : writes[pick % 2];
      pending.clear();
    } else if (value_next) {
      value_next = false;  // an option's value: kept as the fuzzer made it
    } else if (takes_path_to_read(name) || takes_path_to_write(name)) {
      if (arg.find('=') == std::string::npos) {
        pending = name;
      } else {
        arg = "--" + name + "=" + (takes_path_to_read(name) ? reads[pick % 3] : writes[pick % 2]);
      }
    } else if (!name.empty()) {
      value_next = !is_flag(name) && arg.find('=') == std::string::npos;
    } else if (arg != "-") {
      arg = "-";  // positional: the input, always stdin
    }
    args.push_back(arg);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::istringstream in(input);
  std::ostringstream out, err;
  const int status = streamix::host::run_cli(static_cast<int>(args.size()), argv.data(), in, out, err);
  require(status == 0 || status == 1 || status == 2);
  const std::string messages = err.str();
  size_t line_start = 0;
  while (line_start < messages.size()) {
    size_t line_end = messages.find('\n', line_start);
    if (line_end == std::string::npos) line_end = messages.size();
    require(line_end - line_start <= 1500);
    line_start = line_end + 1;
  }
  return 0;
}
