// `streamix`: the command-line tool (see cli.h). The standard streams go through FdInput
// and FdOutput, so that a read or write error (stdin redirected from a directory, a full
// disk) is reported with its reason instead of ending the run silently.
#include <cstring>
#include <iostream>

#include "cli.h"
#include "io.h"
#ifdef STREAMIX_WITH_MQTT
#include "serve.h"
#endif

int main(int argc, char** argv) {
  streamix::host::FdInput stdin_buffer(0);
  streamix::host::FdOutput stdout_buffer(1);
  std::istream in(&stdin_buffer);
  std::ostream out(&stdout_buffer);
#ifdef STREAMIX_WITH_MQTT
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0)
    return streamix::host::run_serve(argc, argv, out, std::cerr);
#endif
  return streamix::host::run_cli(argc, argv, in, out, std::cerr);
}
