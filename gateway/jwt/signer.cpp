#include "jwt/signer.h"

#include <boost/json/serialize.hpp>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "jwt/base64url.h"
#include "jwt/verifier.h"

namespace authgate::jwt {
namespace {

struct SigDeleter {
    void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

std::optional<std::string> fail() {
    ossl::clear_errors();
    return std::nullopt;
}

}  // namespace

std::optional<std::string> sign(Algorithm alg, const Key& key, std::string_view input) {
    if (!key.compatible(alg)) return std::nullopt;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (family_of(alg) == KeyFamily::hmac) {
        const char* name = digest_bytes(alg) == 32 ? "SHA256" : digest_bytes(alg) == 48 ? "SHA384" : "SHA512";
        ossl::Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
        ossl::MacCtx ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(name), 0),
                               OSSL_PARAM_construct_end()};
        unsigned char out[EVP_MAX_MD_SIZE];
        std::size_t len = 0;
        if (!ctx ||
            EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.secret().data()), key.secret().size(),
                         params) != 1 ||
            EVP_MAC_update(ctx.get(), data, input.size()) != 1 || EVP_MAC_final(ctx.get(), out, &len, sizeof out) != 1)
            return fail();
        return std::string(reinterpret_cast<const char*>(out), len);
    }
    if (!key.pkey()) return std::nullopt;
    ossl::MdCtx ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, digest_for(alg), nullptr, key.pkey()) != 1) return fail();
    if (alg == Algorithm::PS256 || alg == Algorithm::PS384 || alg == Algorithm::PS512) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
            return fail();
    }
    std::size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) return fail();
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size()) != 1)
        return fail();
    sig.resize(len);
    if (family_of(alg) != KeyFamily::ec) return sig;

    // DER -> JOSE r||s, each left-padded to the field size.
    const std::size_t half = alg == Algorithm::ES256 ? 32 : alg == Algorithm::ES384 ? 48 : 66;
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, SigDeleter> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!es) return fail();
    std::string raw(2 * half, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), out, static_cast<int>(half)) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), out + half, static_cast<int>(half)) < 0)
        return fail();
    return raw;
}

std::optional<std::string> make_token(Algorithm alg, const Key& key, boost::json::object header,
                                      const boost::json::object& payload) {
    header["alg"] = to_string(alg);
    std::string token = base64url_encode(boost::json::serialize(header));
    token += '.';
    token += base64url_encode(boost::json::serialize(payload));
    auto sig = sign(alg, key, token);
    if (!sig) return std::nullopt;
    token += '.';
    token += base64url_encode(*sig);
    return token;
}

}  // namespace authgate::jwt
