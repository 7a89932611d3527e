#include "jwt/algorithm.h"

#include <array>

namespace authgate::jwt {
namespace {
constexpr std::array<std::string_view, kAlgorithmCount> kNames = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
    "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
    for (int i = 0; i < kAlgorithmCount; ++i) {
        if (kNames[static_cast<std::size_t>(i)] == name) return static_cast<Algorithm>(i);
    }
    return std::nullopt;
}

std::string_view to_string(Algorithm a) { return kNames[static_cast<std::size_t>(a)]; }

}  // namespace authgate::jwt
