// `authgate health URL [--timeout 2s]`: a GET of the admin listener's /healthz or /readyz
// for container HEALTHCHECKs, in images that have no HTTP client of their own.
#pragma once

#include <iosfwd>

namespace authgate::server {

// argv[0] is "health". Exit code: 0 the URL answered 2xx (its status printed to `out`),
// 1 it answered anything else, or did not answer within the timeout (status or reason
// printed to `err`), 2 usage error (also an unparsable or https URL).
int health_command(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace authgate::server
