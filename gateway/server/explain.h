// `authgate explain`: what the gateway would do with one request, without starting it.
// The request is built from the command line, parsed by the same parser with the same
// limits, and decided by the same code as a live request (server/prepare.h);
// explain only adds the per-check detail of the JWT verdict (jwt/token_report.h) and
// prints it all.
#pragma once

#include <iosfwd>

namespace authgate::server {

// argv[0] is "explain". Exit code: 0 the request would succeed (forwarded, or a preflight
// the browser accepts), 1 it would not (the gateway answers 4xx/5xx, or a preflight
// without the CORS permission the browser needs) or the config has errors (printed to
// `err` as FILE:LINE:COL: message), 2 usage error.
int explain_command(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace authgate::server
