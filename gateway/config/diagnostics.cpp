#include "config/config.h"

namespace authgate::config {

std::string Diagnostics::format(const Mark& at, const std::string& message) {
    return at.file + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) + ": " + message;
}

void Diagnostics::error(const Mark& at, const std::string& message) { errors_.push_back(format(at, message)); }

void Diagnostics::warning(const Mark& at, const std::string& message) { warnings_.push_back(format(at, message)); }

}  // namespace authgate::config
