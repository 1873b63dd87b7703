// The `streamix` command as a function: argv as main gets it, the three standard streams as
// parameters, the exit status returned. main() calls it with std::cin, std::cout and
// std::cerr; the fuzz target calls it in-process with strings.
#ifndef STREAMIX_HOST_CLI_H
#define STREAMIX_HOST_CLI_H

#include <istream>
#include <ostream>

namespace streamix::host {

int run_cli(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace streamix::host

#endif  // STREAMIX_HOST_CLI_H
