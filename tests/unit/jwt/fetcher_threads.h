// How many threads of JWKS fetchers the process runs: a fetcher's thread names itself
// kJwksThreadName, and so inherits the resolver thread Asio starts from it (it ends when
// the fetcher is destroyed), so /proc/self/task tells, without the fetcher exposing
// anything. Compare with a baseline: 0 threads more = no fetcher alive.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "jwt/jwks_fetcher.h"

namespace authgate::jwt::test {

inline int jwks_fetcher_threads() {
    int n = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (std::getline(comm, name) && name == kJwksThreadName) ++n;
    }
    return n;
}

}  // namespace authgate::jwt::test
