// `streamix`: the command-line tool (see cli.h). The standard streams go through FdInput
// and FdOutput, so that a read or write error (stdin redirected from a directory, a full
// disk) is reported with its reason instead of ending the run silently.
#include <iostream>

#include "cli.h"
#include "io.h"

int main(int argc, char** argv) {
  streamix::host::FdInput stdin_buffer(0);
  streamix::host::FdOutput stdout_buffer(1);
  std::istream in(&stdin_buffer);
  std::ostream out(&stdout_buffer);
  return streamix::host::run_cli(argc, argv, in, out, std::cerr);
}
