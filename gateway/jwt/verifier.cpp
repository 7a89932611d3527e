#include "jwt/verifier.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>

#include "jwt/base64url.h"

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

enum class Decode { ok, bad_base64, bad_json };

// base64url segment -> JSON object, allocated from `storage`. Boost.JSON's error_code
// overload: no exceptions.
Decode parse_object(std::string_view b64, std::string& scratch, boost::json::storage_ptr storage,
                    boost::json::value& out) {
    scratch.clear();
    if (!base64url_decode(b64, scratch)) return Decode::bad_base64;
    boost::system::error_code ec;
    out = boost::json::parse(scratch, ec, std::move(storage));
    if (ec || !out.is_object()) return Decode::bad_json;
    return Decode::ok;
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

}  // namespace

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

Status parse_token(std::string_view token, ParsedToken& out) {
    if (token.size() > kMaxTokenBytes) return Status::token_too_large;
    const std::size_t dot1 = token.find('.');
    if (dot1 == std::string_view::npos) return Status::token_malformed;
    const std::size_t dot2 = token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return Status::token_malformed;  // JWE (five segments) and junk alike
    out.header_b64 = token.substr(0, dot1);
    out.payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    out.signing_input = token.substr(0, dot2);
    const std::string_view sig_b64 = token.substr(dot2 + 1);
    if (out.header_b64.empty() || out.payload_b64.empty()) return Status::token_malformed;

    std::string scratch;
    scratch.reserve(base64url_decoded_max(std::max(out.header_b64.size(), out.payload_b64.size())));
    // The header is only read here: it lives in a buffer on the stack (Boost.JSON spills
    // to the heap only for an unusually large one) instead of a heap block per value.
    unsigned char header_memory[1024];
    boost::json::monotonic_resource header_resource(header_memory, sizeof header_memory);
    boost::json::value header_value;
    switch (parse_object(out.header_b64, scratch, &header_resource, header_value)) {
        case Decode::ok: break;
        case Decode::bad_base64: return Status::token_malformed;
        case Decode::bad_json: return Status::header_invalid;
    }
    const auto& header = header_value.get_object();

    // RFC 7515 4.1.11: extensions listed in crit must be understood; authgate implements none.
    if (header.contains("crit")) return Status::crit_unsupported;
    const auto* alg = header.if_contains("alg");
    if (!alg || !alg->is_string()) return Status::header_invalid;
    const auto& alg_name = alg->get_string();
    out.alg = parse_algorithm(std::string_view(alg_name.data(), alg_name.size()));
    out.has_kid = false;
    out.kid.clear();
    if (const auto* kid = header.if_contains("kid")) {
        if (!kid->is_string()) return Status::header_invalid;
        out.kid.assign(kid->get_string().data(), kid->get_string().size());
        out.has_kid = true;
    }

    boost::json::value payload_value;
    switch (parse_object(out.payload_b64, scratch, {}, payload_value)) {
        case Decode::ok: break;
        case Decode::bad_base64: return Status::token_malformed;
        case Decode::bad_json: return Status::payload_invalid;
    }
    out.payload = std::move(payload_value.get_object());

    out.signature.clear();
    if (!base64url_decode(sig_b64, out.signature)) return Status::token_malformed;
    return Status::ok;
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
