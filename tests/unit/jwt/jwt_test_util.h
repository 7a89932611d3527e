// Shared helpers for the jwt unit tests: keys generated with OpenSSL at run time (cached
// per process: RSA key generation is slow), PEM/JWK renderings, config builders, a fake
// request and a fixed clock.
#pragma once

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "config/config.h"
#include "jwt/authenticator.h"
#include "jwt/base64url.h"
#include "jwt/jws.h"
#include "jwt/key.h"
#include "jwt/signer.h"
#include "jwt/verifier.h"

namespace authgate::jwt::test {

inline constexpr std::int64_t kNow = 1700000000;  // fixed clock for every test

inline ossl::Pkey keygen(const char* type, const char* param = nullptr, std::size_t bits = 0) {
    EVP_PKEY* k = nullptr;
    if (std::string(type) == "RSA")
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits);
    else if (param)
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, type, param);
    else
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
    return ossl::Pkey(k);
}

// Private keys (they verify too), made once per process.
inline EVP_PKEY* pkey_for(const std::string& which) {
    static std::map<std::string, ossl::Pkey> cache;
    auto it = cache.find(which);
    if (it != cache.end()) return it->second.get();
    ossl::Pkey k;
    if (which == "rsa") k = keygen("RSA", nullptr, 2048);
    else if (which == "rsa2") k = keygen("RSA", nullptr, 2048);
    else if (which == "rsa1024") k = keygen("RSA", nullptr, 1024);
    else if (which == "p256") k = keygen("EC", "P-256");
    else if (which == "p256b") k = keygen("EC", "P-256");
    else if (which == "p384") k = keygen("EC", "P-384");
    else if (which == "p521") k = keygen("EC", "P-521");
    else if (which == "secp256k1") k = keygen("EC", "secp256k1");
    else if (which == "ed25519") k = keygen("ED25519");
    else if (which == "ed25519b") k = keygen("ED25519");
    EXPECT_TRUE(k) << which;
    return cache.emplace(which, std::move(k)).first->second.get();
}

inline ossl::Pkey dup(EVP_PKEY* p) {
    EVP_PKEY_up_ref(p);
    return ossl::Pkey(p);
}

inline KeyPtr private_key(const std::string& which) {
    auto r = Key::from_pkey(dup(pkey_for(which)));
    EXPECT_TRUE(r.key) << r.error;
    return r.key;
}

inline KeyPtr secret_key(const std::string& s) { return Key::from_secret(s).key; }

inline std::string public_pem(EVP_PKEY* k) {
    ossl::Bio bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PUBKEY(bio.get(), k);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

inline std::string private_pem(EVP_PKEY* k) {
    ossl::Bio bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

inline std::string bn_param(EVP_PKEY* k, const char* name, int pad = 0) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(k, name, &bn);
    ossl::Bn owned(bn);
    const int len = pad ? pad : BN_num_bytes(bn);
    std::string out(static_cast<std::size_t>(len), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
    return base64url_encode(out);
}

// Public JWK for a generated key.
inline boost::json::object jwk_for(const std::string& which, const std::string& kid = {}) {
    EVP_PKEY* k = pkey_for(which);
    boost::json::object o;
    if (EVP_PKEY_is_a(k, "RSA")) {
        o = {{"kty", "RSA"}, {"n", bn_param(k, OSSL_PKEY_PARAM_RSA_N)}, {"e", bn_param(k, OSSL_PKEY_PARAM_RSA_E)}};
    } else if (EVP_PKEY_is_a(k, "EC")) {
        const int n = which.rfind("p256", 0) == 0 ? 32 : which == "p384" ? 48 : 66;
        const char* crv = n == 32 ? "P-256" : n == 48 ? "P-384" : "P-521";
        o = {{"kty", "EC"}, {"crv", crv}, {"x", bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, n)},
             {"y", bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, n)}};
    } else {
        unsigned char raw[32];
        std::size_t len = sizeof raw;
        EVP_PKEY_get_raw_public_key(k, raw, &len);
        o = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(std::string(reinterpret_cast<char*>(raw), len))}};
    }
    if (!kid.empty()) o["kid"] = kid;
    return o;
}

inline std::string jwks_json(std::initializer_list<boost::json::object> keys) {
    boost::json::array arr;
    for (const auto& k : keys) arr.push_back(k);
    return boost::json::serialize(boost::json::object{{"keys", arr}});
}

inline std::string sign_token(Algorithm alg, const Key& key, boost::json::object payload,
                              boost::json::object header = {}) {
    auto t = make_token(alg, key, std::move(header), payload);
    EXPECT_TRUE(t.has_value());
    return t.value_or("");
}

inline boost::json::object claims(std::int64_t exp_in = 600) {
    return boost::json::object{{"sub", "alice"}, {"iat", kNow}, {"exp", kNow + exp_in}};
}

// Temporary file removed with the object.
class TempFile {
public:
    explicit TempFile(const std::string& content, const std::string& suffix = ".pem") {
        static int counter = 0;
        path_ = (std::filesystem::temp_directory_path() /
                 ("authgate-jwt-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + suffix))
                    .string();
        std::ofstream(path_, std::ios::binary) << content;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

inline config::JwtProvider provider_config(const std::string& name, std::vector<std::string> algs) {
    config::JwtProvider p;
    p.name = name;
    p.algorithms = std::move(algs);
    return p;
}

class FakeRequest : public RequestView {
public:
    FakeRequest& set(std::string name, std::string value) {
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        headers_[name] = std::move(value);
        return *this;
    }
    FakeRequest& bearer(const std::string& token) { return set("Authorization", "Bearer " + token); }
    FakeRequest& query(std::string q) {
        query_ = std::move(q);
        return *this;
    }
    std::optional<std::string_view> header(std::string_view name) const override {
        std::string lower(name);
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto it = headers_.find(lower);
        if (it == headers_.end()) return std::nullopt;
        return std::string_view(it->second);
    }
    std::string_view query() const override { return query_; }

private:
    std::map<std::string, std::string> headers_;
    std::string query_;
};

}  // namespace authgate::jwt::test
