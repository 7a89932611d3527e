// Compact JWS parsing (RFC 7515 section 7.1) and signature verification.
// The algorithm used is the token's `alg` only after the provider allowed it and the key's
// family agreed (provider.cpp); this file just does the cryptography right: HMAC compared
// in constant time, RSA PKCS#1 v1.5 and PSS (salt = digest length), ECDSA with the JOSE
// raw r||s form converted to DER, Ed25519.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "jwt/algorithm.h"
#include "jwt/key.h"
#include "jwt/status.h"

namespace authgate::jwt {

// Tokens above this are refused before any decoding (memory and CPU bound per request).
inline constexpr std::size_t kMaxTokenBytes = 16 * 1024;

struct ParsedToken {
    std::string_view header_b64;     // views into the token passed to parse_token
    std::string_view payload_b64;
    std::string_view signing_input;  // header_b64 "." payload_b64
    std::string signature;           // decoded signature bytes
    boost::json::object payload;
    std::optional<Algorithm> alg;    // nullopt: "none" or a name authgate does not know
    std::string kid;
    bool has_kid = false;
};

// Splits, decodes and parses; checks exactly three segments, JSON objects, `alg` a string,
// `kid` a string when present, no `crit`. Never throws. On failure `out` is unspecified.
Status parse_token(std::string_view token, ParsedToken& out);

// Cryptographic check of `signature` over `signing_input` with `key` under `alg`.
// The caller has checked key.compatible(alg). Clears the OpenSSL error queue on failure.
bool verify_signature(Algorithm alg, const Key& key, std::string_view signing_input, std::string_view signature);

// JOSE ECDSA signature (r||s, each `half` bytes) to DER; returns the DER length or 0.
// `out` must hold at least 2 * half + 9 bytes.
std::size_t ecdsa_raw_to_der(const unsigned char* raw, std::size_t half, unsigned char* out);

// Digest for the algorithm, fetched once per process (an implicit fetch per call costs a
// lock and a lookup in OpenSSL 3). nullptr for EdDSA.
const EVP_MD* digest_for(Algorithm alg);

}  // namespace authgate::jwt
