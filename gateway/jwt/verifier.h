// Whether a parsed token was signed by one of a provider's keys: the allow-list, the key
// by kid and type, the signature. The algorithm is the token's `alg` only after the
// allow-list admitted it and the key's family agreed. The cryptography: HMAC compared in
// constant time, RSA PKCS#1 v1.5 and PSS (salt = digest length), ECDSA with the JOSE raw
// r||s form converted to DER, Ed25519.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "jwt/algorithm.h"
#include "jwt/jws.h"
#include "jwt/key.h"
#include "jwt/key_store.h"
#include "jwt/status.h"
#include "jwt/token_checks.h"

namespace authgate::jwt {

class JwtVerifier {
public:
    // `algorithms`: the allow-list, in config order (a report lists it so). `keys` must
    // outlive the verifier (both belong to one Provider).
    JwtVerifier(std::vector<Algorithm> algorithms, const KeyStore& keys);

    // Allow-list, then a key: a key with a kid only serves tokens naming it, a key without
    // one serves any token; then the signature. On ok, `generation` is the verifying key
    // set's. An unknown kid asks the key store for a re-fetch. `rec` may be null.
    Status verify(const ParsedToken& token, std::uint64_t& generation, CheckRecorder* rec = nullptr) const;

    const AlgorithmSet& algorithms() const { return allowed_; }
    // Signature checks performed (a cache hit performs none).
    std::uint64_t signature_checks() const { return signature_checks_.load(std::memory_order_relaxed); }

private:
    Status key_failed(const ParsedToken& token, Status why, CheckRecorder* rec) const;

    std::vector<Algorithm> order_;
    AlgorithmSet allowed_;
    const KeyStore& keys_;
    mutable std::atomic<std::uint64_t> signature_checks_{0};
};

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
