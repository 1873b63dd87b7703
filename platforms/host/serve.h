// `streamix serve`: the gateway (gateway.h) on an MQTT broker through libmosquitto. Built
// only where libmosquitto is (native Linux builds with STREAMIX_WITH_MQTT); run_cli says so
// otherwise.
#ifndef STREAMIX_HOST_SERVE_H
#define STREAMIX_HOST_SERVE_H

#include <ostream>

namespace streamix::host {

// argv as run_cli gets it (argv[1] == "serve"); the exit status: 0 after SIGTERM/SIGINT with
// a final checkpoint, 1 for a fatal error (refused credentials, unusable state directory),
// 2 for a usage error.
int run_serve(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace streamix::host

#endif  // STREAMIX_HOST_SERVE_H
