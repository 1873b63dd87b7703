// `streamix`: the command-line tool (see cli.h). Standard input is read through FdInput, so
// that a read error (stdin redirected from a directory) is reported instead of ending the
// input silently.
#include <iostream>

#include "cli.h"
#include "io.h"

int main(int argc, char** argv) {
  streamix::host::FdInput stdin_buffer(0);
  std::istream in(&stdin_buffer);
  return streamix::host::run_cli(argc, argv, in, std::cout, std::cerr);
}
