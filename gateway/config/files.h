// Reading a whole file: one place for the key files, JWKS files, token secrets and /proc
// reads (the config file keeps its own messages, which name it as the config file).
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace authgate::config {

// The file's bytes, or nullopt with `error` (when given) saying why: "cannot read PATH: reason".
inline std::optional<std::string> read_file(const std::string& path, std::string* error = nullptr) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (error) *error = "cannot read " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in.good() && !in.eof()) {
        if (error) *error = "cannot read " + path;
        return std::nullopt;
    }
    return std::move(ss).str();
}

}  // namespace authgate::config
