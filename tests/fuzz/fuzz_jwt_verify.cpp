// libFuzzer: arbitrary bytes as a bearer token through extraction, parsing, and
// verification against providers with fixed HMAC, RSA, EC and Ed25519 keys.
#include <cstddef>
#include <cstdint>
#include <string>

#include <openssl/evp.h>

#include "jwt/authenticator.h"
#include "jwt/extractor.h"
#include "jwt/jws.h"
#include "jwt/provider.h"
#include "jwt/token_cache.h"
#include "jwt/verifier.h"

using namespace authgate;
using namespace authgate::jwt;

namespace {

struct Fixture {
    std::shared_ptr<Provider> provider;
    std::unique_ptr<TokenCache> cache = make_token_cache(64);

    Fixture() {
        config::JwtProvider cfg;
        cfg.name = "fuzz";
        cfg.algorithms = {"HS256", "HS512", "RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"};
        cfg.issuers = {"https://issuer"};
        cfg.audiences = {"api"};
        cfg.leeway = std::chrono::seconds(30);
        cfg.max_lifetime = std::chrono::hours(24);
        cfg.forward_claims = {{"sub", "X-User"}, {"roles", "X-Roles"}, {"a.b", "X-Nested"}};
        cfg.forward_payload_header = "X-Jwt-Payload";
        std::vector<KeyPtr> keys;
        keys.push_back(Key::from_secret("fuzz-secret-0123456789abcdef0123456789").key);
        keys.push_back(Key::from_pkey(ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}))).key);
        for (const char* curve : {"P-256", "P-384", "P-521"})
            keys.push_back(Key::from_pkey(ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve))).key);
        keys.push_back(Key::from_pkey(ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"))).key);
        config::Diagnostics diag;
        provider = Provider::create_with_keys(cfg, std::move(keys), diag);
    }
};

class Request : public RequestView {
public:
    std::string auth;
    std::optional<std::string_view> header(std::string_view name) const override {
        if (name == "Authorization") return std::string_view(auth);
        return std::nullopt;
    }
    std::string_view query() const override { return auth; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture fx;
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    ParsedToken parsed;
    if (parse_token(input, parsed) == Status::ok) {
        std::shared_ptr<const VerifiedToken> out;
        (void)fx.provider->verify(parsed, 1700000000, out);
    }
    // The same bytes through the header/query extractors.
    Request req;
    req.auth = "Bearer " + std::string(input);
    std::string scratch;
    const TokenExtractor extractor({});
    (void)extractor.extract(req, scratch);
    (void)find_query_param(input, "access_token");
    (void)remove_query_param(input, "access_token");
    (void)remove_cookie(input, "session");
    (void)find_cookie(input, "session");
    return 0;
}
