// JSON Web Key Sets (RFC 7517 section 5) and the immutable key set a provider verifies
// with. A set is built once (config load or a JWKS fetch) and then only read, so worker
// threads share it without locks; a refresh publishes a new set with a new generation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jwt/key.h"

namespace authgate::jwt {

struct KeySet {
    std::vector<KeyPtr> keys;
    // Process-wide unique, increasing: a verified-token cache entry remembers the
    // generation it was verified under and is dropped when the provider's set changes.
    std::uint64_t generation = 0;
};
using KeySetPtr = std::shared_ptr<const KeySet>;

// A fresh generation number (never 0).
std::uint64_t next_key_generation();

struct JwksParseResult {
    bool ok = false;
    std::string error;                  // when !ok: why the document was refused
    std::vector<KeyPtr> keys;           // usable signing keys
    std::vector<std::string> skipped;   // one line per key left out (use=enc, bad alg, ...)
};

inline constexpr std::size_t kMaxJwksBytes = 1 << 20;
inline constexpr std::size_t kMaxJwksKeys = 256;

// Never throws. A document that is not a JSON object with a "keys" array is refused;
// individual bad keys are skipped (and listed) so one odd key cannot take down the rest.
JwksParseResult parse_jwks(std::string_view json);

}  // namespace authgate::jwt
