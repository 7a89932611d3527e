// JWS algorithms (RFC 7518 section 3, RFC 8037) that authgate verifies, and which key
// family each one needs. "none" is deliberately not representable.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace authgate::jwt {

enum class Algorithm : std::uint8_t { HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA };
inline constexpr int kAlgorithmCount = 13;

enum class KeyFamily : std::uint8_t { hmac, rsa, ec, okp };
// EC curve of a key; Ed25519 is recorded as `ed25519` with family okp.
enum class Curve : std::uint8_t { none, p256, p384, p521, ed25519 };

std::optional<Algorithm> parse_algorithm(std::string_view name);  // exact, case-sensitive
std::string_view to_string(Algorithm a);

constexpr KeyFamily family_of(Algorithm a) {
    switch (a) {
        case Algorithm::HS256: case Algorithm::HS384: case Algorithm::HS512: return KeyFamily::hmac;
        case Algorithm::RS256: case Algorithm::RS384: case Algorithm::RS512:
        case Algorithm::PS256: case Algorithm::PS384: case Algorithm::PS512: return KeyFamily::rsa;
        case Algorithm::ES256: case Algorithm::ES384: case Algorithm::ES512: return KeyFamily::ec;
        case Algorithm::EdDSA: return KeyFamily::okp;
    }
    return KeyFamily::hmac;
}

// The curve an EC/OKP algorithm is bound to (RFC 7518 3.4: ES256 only with P-256, ...).
constexpr Curve curve_of(Algorithm a) {
    switch (a) {
        case Algorithm::ES256: return Curve::p256;
        case Algorithm::ES384: return Curve::p384;
        case Algorithm::ES512: return Curve::p521;
        case Algorithm::EdDSA: return Curve::ed25519;
        default: return Curve::none;
    }
}

// Digest size in bytes (the PSS salt length and the HMAC output length).
constexpr int digest_bytes(Algorithm a) {
    switch (a) {
        case Algorithm::HS256: case Algorithm::RS256: case Algorithm::PS256: case Algorithm::ES256: return 32;
        case Algorithm::HS384: case Algorithm::RS384: case Algorithm::PS384: case Algorithm::ES384: return 48;
        case Algorithm::HS512: case Algorithm::RS512: case Algorithm::PS512: case Algorithm::ES512: return 64;
        case Algorithm::EdDSA: return 0;
    }
    return 0;
}

// A small set of algorithms (the provider allow-list).
class AlgorithmSet {
public:
    void add(Algorithm a) { bits_ |= bit(a); }
    bool contains(Algorithm a) const { return (bits_ & bit(a)) != 0; }
    bool empty() const { return bits_ == 0; }

private:
    static constexpr std::uint32_t bit(Algorithm a) { return 1u << static_cast<unsigned>(a); }
    std::uint32_t bits_ = 0;
};

}  // namespace authgate::jwt
