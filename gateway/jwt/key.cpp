#include "jwt/key.h"

#include <cstring>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "jwt/verifier.h"

#include "jwt/base64url.h"

namespace authgate::jwt {
namespace {

KeyResult fail(std::string message) {
    ossl::clear_errors();
    return KeyResult{nullptr, std::move(message)};
}

Curve curve_from_group(std::string_view name) {
    if (name == "prime256v1" || name == "P-256" || name == "secp256r1") return Curve::p256;
    if (name == "secp384r1" || name == "P-384") return Curve::p384;
    if (name == "secp521r1" || name == "P-521") return Curve::p521;
    return Curve::none;
}

// Field size in bytes of a curve: JWK coordinates and JOSE signature halves use it.
int coordinate_bytes(Curve c) {
    switch (c) {
        case Curve::p256: return 32;
        case Curve::p384: return 48;
        case Curve::p521: return 66;
        case Curve::ed25519: return 32;
        case Curve::none: return 0;
    }
    return 0;
}

const char* group_name(Curve c) {
    switch (c) {
        case Curve::p256: return "P-256";
        case Curve::p384: return "P-384";
        case Curve::p521: return "P-521";
        default: return nullptr;
    }
}

// Optional string member: absent -> true with *out untouched; wrong type -> false.
bool opt_string(const boost::json::object& o, std::string_view name, const boost::json::string** out) {
    const auto* v = o.if_contains(name);
    if (!v) return true;
    *out = v->if_string();
    return *out != nullptr;
}

bool b64_member(const boost::json::object& o, std::string_view name, std::string& out) {
    const auto* v = o.if_contains(name);
    if (!v || !v->is_string()) return false;
    const auto& s = v->get_string();
    return base64url_decode(std::string_view(s.data(), s.size()), out) && !out.empty();
}

ossl::Pkey pkey_from_params(const char* type, OSSL_PARAM* params) {
    ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) <= 0) return nullptr;
    return ossl::Pkey(raw);
}

}  // namespace

bool Key::compatible(Algorithm alg) const {
    if (alg_ && *alg_ != alg) return false;
    if (family_of(alg) != family_) return false;
    const Curve want = curve_of(alg);
    return want == Curve::none || want == curve_;
}

KeyPtr Key::with_identity(std::string kid, bool has_kid, std::optional<Algorithm> alg) const {
    auto copy = std::shared_ptr<Key>(new Key(*this));
    copy->kid_ = std::move(kid);
    copy->has_kid_ = has_kid;
    copy->alg_ = alg;
    return copy;
}

KeyResult Key::from_secret(std::string_view bytes) {
    if (bytes.empty()) return fail("HMAC secret is empty");
    auto key = std::shared_ptr<Key>(new Key());
    key->family_ = KeyFamily::hmac;
    key->secret_.assign(bytes.data(), bytes.size());
    key->bits_ = static_cast<int>(bytes.size() * 8);
    ossl::Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    static const char* const digests[3] = {"SHA256", "SHA384", "SHA512"};
    for (std::size_t i = 0; mac && i < 3; ++i) {
        std::shared_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(mac.get()), EVP_MAC_CTX_free);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digests[i]), 0),
            OSSL_PARAM_construct_end()};
        if (ctx && EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key->secret_.data()),
                                key->secret_.size(), params) == 1) {
            key->hmac_[i] = std::move(ctx);
        } else {
            ossl::clear_errors();
        }
    }
    return KeyResult{key, {}};
}

const EVP_MAC_CTX* Key::hmac_context(int digest_bytes) const {
    switch (digest_bytes) {
        case 32: return hmac_[0].get();
        case 48: return hmac_[1].get();
        case 64: return hmac_[2].get();
        default: return nullptr;
    }
}

KeyResult Key::from_pkey(ossl::Pkey pkey) {
    if (!pkey) return fail("no key");
    auto key = std::shared_ptr<Key>(new Key());
    key->bits_ = EVP_PKEY_get_bits(pkey.get());
    if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
        if (key->bits_ < kMinRsaBits)
            return fail("RSA key has " + std::to_string(key->bits_) + " bits; at least 2048 are required");
        key->family_ = KeyFamily::rsa;
    } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
        char name[64] = {0};
        std::size_t len = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len))
            return fail("EC key without a named curve");
        key->curve_ = curve_from_group(std::string_view(name, len));
        if (key->curve_ == Curve::none)
            return fail("EC curve " + std::string(name, len) + " is not supported (P-256, P-384, P-521)");
        key->family_ = KeyFamily::ec;
    } else if (EVP_PKEY_is_a(pkey.get(), "ED25519")) {
        key->family_ = KeyFamily::okp;
        key->curve_ = Curve::ed25519;
    } else {
        return fail("unsupported key type (RSA, EC P-256/384/521 or Ed25519 expected)");
    }
    key->pkey_ = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
    for (int i = 0; i < kAlgorithmCount; ++i) {
        const auto alg = static_cast<Algorithm>(i);
        if (alg == Algorithm::EdDSA || !key->compatible(alg)) continue;  // Ed25519 has no prehash form
        std::shared_ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->pkey_.get(), nullptr),
                                          EVP_PKEY_CTX_free);
        const bool pss = alg == Algorithm::PS256 || alg == Algorithm::PS384 || alg == Algorithm::PS512;
        bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1;
        if (ok && key->family_ == KeyFamily::rsa)
            ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) > 0 &&
                 (!pss || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) > 0);
        ok = ok && EVP_PKEY_CTX_set_signature_md(ctx.get(), digest_for(alg)) > 0;
        if (ok) {
            key->verify_[static_cast<std::size_t>(i)] = std::move(ctx);
        } else {
            ossl::clear_errors();  // verification falls back to a fresh context per token
        }
    }
    return KeyResult{key, {}};
}

KeyResult Key::from_public_pem(std::string_view pem) {
    if (pem.find("PRIVATE KEY-----") != std::string_view::npos)
        return fail("file holds a private key; configure the public key instead");
    if (pem.find("-----BEGIN ") == std::string_view::npos) return fail("not a PEM file");
    if (pem.size() > (1u << 20)) return fail("PEM file too large");
    if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
        ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        ossl::X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
        if (!cert) return fail("not a valid PEM certificate");
        ossl::Pkey pkey(X509_get_pubkey(cert.get()));
        if (!pkey) return fail("certificate has no usable public key");
        return from_pkey(std::move(pkey));
    }
    // The decoder accepts SubjectPublicKeyInfo and the type-specific PKCS#1 form.
    EVP_PKEY* raw = nullptr;
    OSSL_DECODER_CTX* dctx =
        OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr);
    if (!dctx) return fail("OpenSSL decoder unavailable");
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    std::size_t len = pem.size();
    const int ok = OSSL_DECODER_from_data(dctx, &data, &len);
    OSSL_DECODER_CTX_free(dctx);
    ossl::Pkey pkey(raw);
    if (!ok || !pkey) return fail("not a PEM public key");
    return from_pkey(std::move(pkey));
}

KeyResult Key::from_private_pem(std::string_view pem) {
    ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    ossl::Pkey pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!pkey) return fail("not a PEM private key");
    return from_pkey(std::move(pkey));
}

KeyResult Key::from_jwk(const boost::json::object& jwk) {
    const boost::json::string* kty = nullptr;
    if (!opt_string(jwk, "kty", &kty) || !kty) return fail("JWK without kty");
    const boost::json::string* kid = nullptr;
    if (!opt_string(jwk, "kid", &kid)) return fail("JWK kid is not a string");
    const boost::json::string* alg_name = nullptr;
    if (!opt_string(jwk, "alg", &alg_name)) return fail("JWK alg is not a string");
    std::optional<Algorithm> alg;
    if (alg_name) {
        alg = parse_algorithm(std::string_view(alg_name->data(), alg_name->size()));
        if (!alg) return fail("JWK alg " + std::string(alg_name->c_str()) + " is not supported");
    }

    KeyResult made;
    if (*kty == "oct") {
        std::string k;
        if (!b64_member(jwk, "k", k)) return fail("oct JWK without a valid k");
        made = from_secret(k);
    } else if (*kty == "RSA") {
        std::string n, e;
        if (!b64_member(jwk, "n", n) || !b64_member(jwk, "e", e)) return fail("RSA JWK without valid n and e");
        if (n.size() > 2048 || e.size() > 8) return fail("RSA JWK n or e too large");
        ossl::Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr));
        ossl::Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr));
        ossl::ParamBld bld(OSSL_PARAM_BLD_new());
        if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
            !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
            return fail("RSA JWK: out of memory");
        ossl::Params params(OSSL_PARAM_BLD_to_param(bld.get()));
        ossl::Pkey pkey = params ? pkey_from_params("RSA", params.get()) : nullptr;
        if (!pkey) return fail("RSA JWK is not a valid key");
        made = from_pkey(std::move(pkey));
    } else if (*kty == "EC") {
        const boost::json::string* crv = nullptr;
        if (!opt_string(jwk, "crv", &crv) || !crv) return fail("EC JWK without crv");
        const Curve curve = curve_from_group(std::string_view(crv->data(), crv->size()));
        if (curve == Curve::none || *crv != group_name(curve)) return fail("EC JWK curve is not P-256, P-384 or P-521");
        std::string x, y;
        if (!b64_member(jwk, "x", x) || !b64_member(jwk, "y", y)) return fail("EC JWK without valid x and y");
        const auto n = static_cast<std::size_t>(coordinate_bytes(curve));
        if (x.size() != n || y.size() != n) return fail("EC JWK coordinates have the wrong length");
        std::string point;
        point.reserve(1 + 2 * n);
        point.push_back('\x04');  // uncompressed point
        point += x;
        point += y;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group_name(curve)), 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
            OSSL_PARAM_construct_end()};
        ossl::Pkey pkey = pkey_from_params("EC", params);
        if (!pkey) return fail("EC JWK is not a point on the curve");
        // fromdata does not promise an on-curve check in every provider: ask explicitly.
        ossl::PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
        if (!check || EVP_PKEY_public_check(check.get()) <= 0) return fail("EC JWK is not a point on the curve");
        made = from_pkey(std::move(pkey));
    } else if (*kty == "OKP") {
        const boost::json::string* crv = nullptr;
        if (!opt_string(jwk, "crv", &crv) || !crv || *crv != "Ed25519") return fail("OKP JWK curve is not Ed25519");
        std::string x;
        if (!b64_member(jwk, "x", x) || x.size() != 32) return fail("Ed25519 JWK without a valid 32-byte x");
        OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, x.data(), x.size()),
                               OSSL_PARAM_construct_end()};
        ossl::Pkey pkey = pkey_from_params("ED25519", params);
        if (!pkey) return fail("Ed25519 JWK is not a valid key");
        made = from_pkey(std::move(pkey));
    } else {
        return fail("JWK kty " + std::string(kty->c_str()) + " is not supported");
    }
    if (!made.key) return made;
    if (alg && !made.key->compatible(*alg))
        return fail("JWK alg " + std::string(to_string(*alg)) + " does not fit its key type");
    return KeyResult{made.key->with_identity(kid ? std::string(kid->c_str()) : std::string(), kid != nullptr, alg), {}};
}

}  // namespace authgate::jwt
