// A compiled jwt.providers entry, and the composition of its stages: where tokens come
// from (TokenExtractor), whether one is genuine (JwtVerifier over the KeyStore), whether
// its claims are acceptable (ClaimsValidator), what goes upstream (ForwardClaims).
// Shared read-only by all workers; the only mutable state is in the key store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "jwt/algorithm.h"
#include "jwt/claims.h"
#include "jwt/extractor.h"
#include "jwt/forward_claims.h"
#include "jwt/jws.h"
#include "jwt/key_store.h"
#include "jwt/token_checks.h"
#include "jwt/verified_token.h"
#include "jwt/verifier.h"

namespace authgate::jwt {

class Provider {
public:
    // Reads key files, reports what only they (and OpenSSL) can tell into diag at the
    // config marks. The config's shape is the loader's to check (config/loader.cpp).
    static std::shared_ptr<Provider> create(const config::JwtProvider& cfg, config::Diagnostics& diag);
    // Same, plus already-built keys (tests, fuzzing, benchmarks).
    static std::shared_ptr<Provider> create_with_keys(const config::JwtProvider& cfg, std::vector<KeyPtr> keys,
                                                      config::Diagnostics& diag);

    const std::string& name() const { return cfg_.name; }
    std::uint64_t id() const { return id_; }  // process-unique, never reused (cache key)
    // Position in its ProviderSet (config order): the metrics' slot index.
    std::uint32_t index() const { return index_; }
    void set_index(std::uint32_t i) { index_ = i; }  // ProviderSet, before it is shared
    const config::JwtProvider& config() const { return cfg_; }
    const TokenExtractor& extractor() const { return extractor_; }
    bool strip_token() const { return cfg_.strip_token; }
    const JwtVerifier& verifier() const { return verifier_; }
    KeyStore& key_store() { return keys_; }
    const KeyStore& key_store() const { return keys_; }

    // Whether the token's iss is one this provider names (selection by iss: authenticator.cpp).
    bool issuer_matches(const boost::json::object& payload) const;

    // Full check of a parsed token: the verifier (alg allow-list, key by kid and type,
    // signature), the claims, the forwarded claim values. On success moves the payload
    // out of `token`. With a recorder, each check is recorded as it runs (explain).
    Status verify(ParsedToken& token, std::int64_t now, std::shared_ptr<const VerifiedToken>& out,
                  CheckRecorder* rec = nullptr) const;
    // What a cache hit must still pass (time claims).
    Status recheck(const VerifiedToken& v, std::int64_t now) const { return validator_.check_time(v.times, now); }

    // Where the fetcher gets keys (has_remote_keys() first): the OpenID discovery URL of a
    // discovery provider, else the jwks_url; and how often.
    bool has_remote_keys() const { return cfg_.remote_source().has_value(); }
    const std::string& remote_source() const { return *cfg_.remote_source(); }
    bool uses_discovery() const { return cfg_.discovery; }
    config::Duration jwks_refresh() const { return cfg_.keys.jwks_refresh; }

    // The key store at a glance, for the admin listener, explain and tests.
    KeySetPtr key_set() const { return keys_.current(); }
    bool ever_fetched() const { return keys_.ever_fetched(); }
    JwksStats jwks_stats() const { return keys_.stats(); }
    bool wait_for_fetch_attempts(std::uint64_t attempts, std::chrono::milliseconds timeout) const {
        return keys_.wait_for_fetch_attempts(attempts, timeout);
    }

    // The JOSE typ compared as RFC 7515 4.1.9 asks: case-insensitive, "application/"
    // omitted when the rest has no '/'. "application/AT+JWT" -> "at+jwt".
    static std::string normalize_type(std::string_view typ);

private:
    Provider(const config::JwtProvider& cfg, std::vector<KeyPtr> keys);
    Status check_type(const ParsedToken& t, CheckRecorder* rec) const;
    // `sources[i]`: where keys[i] came from in the config (for its warnings).
    static std::shared_ptr<Provider> compile(const config::JwtProvider& cfg, std::vector<KeyPtr> keys,
                                             const std::vector<const config::Mark*>& sources,
                                             config::Diagnostics& diag);

    const config::JwtProvider cfg_;
    const std::uint64_t id_;
    std::uint32_t index_ = 0;
    KeyStore keys_;
    JwtVerifier verifier_;  // reads keys_: declared after it
    std::vector<std::string> types_;  // cfg.types normalized (normalize_type)
    ClaimsValidator validator_;
    TokenExtractor extractor_;
    ForwardClaims forward_;
};

}  // namespace authgate::jwt
