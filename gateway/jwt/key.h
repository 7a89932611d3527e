// One verification (or, for `authgate token` and tests, signing) key: an HMAC secret or
// an OpenSSL EVP_PKEY, with the family/curve that decides which algorithms may use it.
// Immutable once built; shared by key sets as shared_ptr<const Key>.
#pragma once

#include <array>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "jwt/algorithm.h"
#include "jwt/ossl.h"

namespace authgate::jwt {

class Key;
using KeyPtr = std::shared_ptr<const Key>;

// A key or the reason it could not be made (load-time only; messages are for operators).
struct KeyResult {
    KeyPtr key;
    std::string error;
};

class Key {
public:
    static constexpr int kMinRsaBits = 2048;

    // HMAC secret (raw bytes). Empty secrets are refused.
    static KeyResult from_secret(std::string_view bytes);
    // PEM text: SubjectPublicKeyInfo, PKCS#1 RSA public key, or an X.509 certificate.
    static KeyResult from_public_pem(std::string_view pem);
    // PEM private key (for signing in `authgate token` and tests).
    static KeyResult from_private_pem(std::string_view pem);
    // Takes ownership; checks the type (RSA >= 2048 bits, EC P-256/384/521, Ed25519).
    static KeyResult from_pkey(ossl::Pkey pkey);
    // RFC 7517 JWK: kty RSA (n, e), EC (crv, x, y), OKP Ed25519 (x), oct (k).
    // Reads kid and alg too (an unknown alg is an error); `use` is the caller's business.
    static KeyResult from_jwk(const boost::json::object& jwk);

    KeyFamily family() const { return family_; }
    Curve curve() const { return curve_; }
    const std::string& kid() const { return kid_; }
    bool has_kid() const { return has_kid_; }
    // "alg" pinned by the JWK, if any: then only that algorithm may use the key.
    std::optional<Algorithm> pinned_alg() const { return alg_; }
    // Whether alg may be verified with this key (family, curve and pinned alg agree).
    bool compatible(Algorithm alg) const;
    // Bits of the modulus (RSA) / field (EC); 8 * length for secrets.
    int bits() const { return bits_; }

    EVP_PKEY* pkey() const { return pkey_.get(); }
    const std::string& secret() const { return secret_; }
    // HMAC keyed with the secret for a digest of 32, 48 or 64 bytes, prepared once at load:
    // a verification duplicates it instead of fetching and keying HMAC for every token.
    // Null for non-HMAC keys or when OpenSSL could not prepare it.
    const EVP_MAC_CTX* hmac_context(int digest_bytes) const;

    // A verification context for alg (padding and digest set) prepared once at load, for
    // RSA and EC keys: a verification duplicates it instead of fetching the signature
    // algorithm and initialising a context per token. Null for HMAC/Ed25519 keys, an
    // algorithm the key cannot serve, or when OpenSSL could not prepare it.
    const EVP_PKEY_CTX* verify_context(Algorithm alg) const { return verify_[static_cast<std::size_t>(alg)].get(); }

    // Copy with a kid / pinned alg (used when building keys from JWK members).
    KeyPtr with_identity(std::string kid, bool has_kid, std::optional<Algorithm> alg) const;

private:
    Key() = default;
    KeyFamily family_ = KeyFamily::hmac;
    Curve curve_ = Curve::none;
    int bits_ = 0;
    std::string kid_;
    bool has_kid_ = false;
    std::optional<Algorithm> alg_;
    std::shared_ptr<EVP_PKEY> pkey_;  // shared so with_identity() copies are cheap
    std::string secret_;
    std::array<std::shared_ptr<EVP_MAC_CTX>, 3> hmac_;  // SHA-256, SHA-384, SHA-512
    std::array<std::shared_ptr<EVP_PKEY_CTX>, kAlgorithmCount> verify_;  // by Algorithm
};

}  // namespace authgate::jwt
