#include "jwt/verifier.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>

namespace authgate::jwt {
namespace {

struct Digests {
    ossl::Md sha256{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
    ossl::Md sha384{EVP_MD_fetch(nullptr, "SHA384", nullptr)};
    ossl::Md sha512{EVP_MD_fetch(nullptr, "SHA512", nullptr)};
};

const Digests& digests() {
    static const Digests d;  // thread-safe one-time fetch
    return d;
}

bool hmac_verify(Algorithm alg, const Key& key, std::string_view input, std::string_view sig) {
    const auto want = static_cast<std::size_t>(digest_bytes(alg));
    // The length of a MAC is public (it follows from alg), so an early exit leaks nothing.
    if (sig.size() != want) return false;
    const EVP_MAC_CTX* prepared = key.hmac_context(static_cast<int>(want));
    ossl::MacCtx ctx(prepared ? EVP_MAC_CTX_dup(prepared) : nullptr);
    if (!ctx) {
        ossl::clear_errors();
        return false;
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t out_len = 0;
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out, &out_len, sizeof out) != 1 || out_len != want) {
        ossl::clear_errors();
        return false;
    }
    return CRYPTO_memcmp(out, sig.data(), want) == 0;
}

// One DER INTEGER (unsigned big-endian magnitude) at out; returns bytes written.
std::size_t der_integer(const unsigned char* v, std::size_t n, unsigned char* out) {
    while (n > 1 && v[0] == 0) {  // minimal encoding: strip leading zero bytes
        ++v;
        --n;
    }
    const bool pad = (v[0] & 0x80) != 0;  // keep the value positive
    const std::size_t len = n + (pad ? 1 : 0);
    std::size_t i = 0;
    out[i++] = 0x02;
    out[i++] = static_cast<unsigned char>(len);  // <= 67, short form
    if (pad) out[i++] = 0x00;
    std::memcpy(out + i, v, n);
    return i + n;
}

std::string kid_text(const ParsedToken& t) { return t.has_kid ? "kid " + t.kid : std::string("no kid"); }

}  // namespace

JwtVerifier::JwtVerifier(std::vector<Algorithm> algorithms, const KeyStore& keys)
    : order_(std::move(algorithms)), keys_(keys) {
    for (Algorithm a : order_) allowed_.add(a);
}

Status JwtVerifier::verify(const ParsedToken& t, std::uint64_t& generation, CheckRecorder* rec) const {
    // The allow-list decides, never the token: "none" and unknown names have no Algorithm.
    if (!t.alg || !allowed_.contains(*t.alg)) {
        record(rec, Check::alg, Status::algorithm_not_allowed, [&] {
            std::string allowed;
            for (Algorithm a : order_) allowed += (allowed.empty() ? "" : ", ") + std::string(to_string(a));
            return (t.alg ? std::string(to_string(*t.alg)) : std::string("none or unknown")) + "; allowed: " + allowed;
        });
        return Status::algorithm_not_allowed;
    }
    const Algorithm alg = *t.alg;
    record(rec, Check::alg, Status::ok, [&] { return std::string(to_string(alg)); });

    const KeySetPtr set = keys_.current();
    if (!set || set->keys.empty())
        return key_failed(t, keys_.awaiting_first_fetch() ? Status::keys_unavailable : Status::no_key, rec);

    bool kid_known = !t.has_kid;
    bool any_candidate_compatible = false;
    bool verified = false;
    for (const auto& key : set->keys) {
        if (t.has_kid && key->has_kid()) {
            if (key->kid() != t.kid) continue;
            kid_known = true;
        }
        if (!key->compatible(alg)) continue;
        any_candidate_compatible = true;
        signature_checks_.fetch_add(1, std::memory_order_relaxed);
        if (verify_signature(alg, *key, t.signing_input, t.signature)) {
            verified = true;
            break;
        }
    }
    if (verified || any_candidate_compatible) {
        record(rec, Check::key, Status::ok, [&] { return kid_text(t); });
        const Status s = verified ? Status::ok : Status::signature_invalid;
        record(rec, Check::signature, s, [&] { return std::string(to_string(alg)); });
        if (verified) generation = set->generation;
        return s;
    }
    const bool unavailable = keys_.awaiting_first_fetch();
    if (kid_known) return key_failed(t, unavailable ? Status::keys_unavailable : Status::key_mismatch, rec);
    if (unavailable) return key_failed(t, Status::keys_unavailable, rec);
    keys_.request_refetch();  // maybe the issuer rotated keys: fetch soon, answer now
    return key_failed(t, Status::unknown_kid, rec);
}

Status JwtVerifier::key_failed(const ParsedToken& t, Status why, CheckRecorder* rec) const {
    record(rec, Check::key, why, [&] {
        switch (why) {
            case Status::keys_unavailable: return kid_text(t) + "; no keys: jwks_url not fetched";
            case Status::no_key: return kid_text(t) + "; the provider has no keys";
            case Status::unknown_kid: return kid_text(t) + ": no key has it";
            case Status::key_mismatch: return kid_text(t) + "; no key of the type the algorithm needs";
            default: return kid_text(t);
        }
    });
    return why;
}

const EVP_MD* digest_for(Algorithm alg) {
    switch (digest_bytes(alg)) {
        case 32: return digests().sha256.get();
        case 48: return digests().sha384.get();
        case 64: return digests().sha512.get();
        default: return nullptr;
    }
}

std::size_t ecdsa_raw_to_der(const unsigned char* raw, std::size_t half, unsigned char* out) {
    if (half == 0 || half > 66) return 0;
    unsigned char body[2 * (3 + 66)];
    std::size_t body_len = der_integer(raw, half, body);
    body_len += der_integer(raw + half, half, body + body_len);
    std::size_t i = 0;
    out[i++] = 0x30;
    if (body_len >= 0x80) {  // P-521 signatures need the long length form
        out[i++] = 0x81;
    }
    out[i++] = static_cast<unsigned char>(body_len);
    std::memcpy(out + i, body, body_len);
    return i + body_len;
}

bool verify_signature(Algorithm alg, const Key& key, std::string_view input, std::string_view sig) {
    if (!key.compatible(alg)) return false;
    if (family_of(alg) == KeyFamily::hmac) return hmac_verify(alg, key, input, sig);
    if (!key.pkey()) return false;

    const auto* sig_bytes = reinterpret_cast<const unsigned char*>(sig.data());
    std::size_t sig_len = sig.size();
    unsigned char der[2 * (3 + 66) + 3];
    if (family_of(alg) == KeyFamily::ec) {
        // JOSE fixes the length (RFC 7518 3.4); anything else is not a signature of this alg.
        const std::size_t half = alg == Algorithm::ES256 ? 32 : alg == Algorithm::ES384 ? 48 : 66;
        if (sig.size() != 2 * half) return false;
        sig_len = ecdsa_raw_to_der(sig_bytes, half, der);
        if (sig_len == 0) return false;
        sig_bytes = der;
    } else if (family_of(alg) == KeyFamily::okp && sig.size() != 64) {
        return false;
    } else if (family_of(alg) == KeyFamily::rsa &&
               sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.pkey()))) {
        // RFC 8017 8.1.2/8.2.2 step 1: exactly k octets. OpenSSL's PSS path would take a
        // shorter string as the same integer, so one signature had several encodings.
        return false;
    }

    if (const EVP_PKEY_CTX* prepared = key.verify_context(alg)) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        ossl::PkeyCtx pctx(EVP_PKEY_CTX_dup(prepared));
        if (!pctx || EVP_Digest(input.data(), input.size(), digest, &digest_len, digest_for(alg), nullptr) != 1 ||
            EVP_PKEY_verify(pctx.get(), sig_bytes, sig_len, digest, digest_len) != 1) {
            ossl::clear_errors();
            return false;
        }
        return true;
    }

    ossl::MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx) return false;
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(alg), nullptr, key.pkey()) != 1) {
        ossl::clear_errors();
        return false;
    }
    if (alg == Algorithm::PS256 || alg == Algorithm::PS384 || alg == Algorithm::PS512) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0) {
            ossl::clear_errors();
            return false;
        }
    }
    const int rc = EVP_DigestVerify(ctx.get(), sig_bytes, sig_len, reinterpret_cast<const unsigned char*>(input.data()),
                                    input.size());
    if (rc != 1) {
        ossl::clear_errors();
        return false;
    }
    return true;
}

}  // namespace authgate::jwt
