// JWT hot paths: parse + signature check per algorithm, and a whole Authenticator call
// with a warm verified-token cache versus without one.
#include <benchmark/benchmark.h>

#include <map>
#include <vector>

#include "jwt/authenticator.h"
#include "jwt/jws.h"
#include "jwt/provider.h"
#include "jwt/signer.h"
#include "jwt/token_cache.h"
#include "jwt/verifier.h"

using namespace authgate;
using namespace authgate::jwt;

namespace {

constexpr std::int64_t kNow = 1700000000;

KeyPtr bench_key(Algorithm alg) {
    static std::map<Algorithm, KeyPtr> keys;
    if (auto it = keys.find(alg); it != keys.end()) return it->second;
    KeyPtr k;
    switch (family_of(alg)) {
        case KeyFamily::hmac: k = Key::from_secret("bench-secret-0123456789abcdef0123456789").key; break;
        case KeyFamily::rsa:
            k = Key::from_pkey(ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}))).key;
            break;
        case KeyFamily::ec: k = Key::from_pkey(ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"))).key; break;
        case KeyFamily::okp: k = Key::from_pkey(ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"))).key; break;
    }
    keys[alg] = k;
    return k;
}

boost::json::object bench_claims() {
    return {{"iss", "https://issuer"}, {"sub", "alice"}, {"aud", "api"}, {"roles", boost::json::array{"a", "b"}},
            {"iat", kNow}, {"exp", kNow + 3600}};
}

void BM_ParseAndVerify(benchmark::State& state, Algorithm alg) {
    const KeyPtr key = bench_key(alg);
    const std::string token = *make_token(alg, *key, {{"typ", "JWT"}}, bench_claims());
    for (auto _ : state) {
        ParsedToken t;
        benchmark::DoNotOptimize(parse_token(token, t));
        benchmark::DoNotOptimize(verify_signature(alg, *key, t.signing_input, t.signature));
    }
}
BENCHMARK_CAPTURE(BM_ParseAndVerify, HS256, Algorithm::HS256);
BENCHMARK_CAPTURE(BM_ParseAndVerify, RS256, Algorithm::RS256);
BENCHMARK_CAPTURE(BM_ParseAndVerify, PS256, Algorithm::PS256);
BENCHMARK_CAPTURE(BM_ParseAndVerify, ES256, Algorithm::ES256);
BENCHMARK_CAPTURE(BM_ParseAndVerify, EdDSA, Algorithm::EdDSA);

class BenchRequest : public RequestView {
public:
    std::string auth;
    std::optional<std::string_view> header(std::string_view name) const override {
        if (name == "Authorization") return std::string_view(auth);
        return std::nullopt;
    }
    std::string_view query() const override { return {}; }
};

struct RouteFixture {
    std::shared_ptr<ProviderSet> set;
    std::shared_ptr<const Authenticator> auth;
    BenchRequest request;

    explicit RouteFixture(Algorithm alg) {
        config::Jwt jwt;
        config::JwtProvider p;
        p.name = "bench";
        p.algorithms = {std::string(to_string(alg))};
        p.issuers = {"https://issuer"};
        p.audiences = {"api"};
        p.forward_claims = {{"sub", "X-User"}, {"roles", "X-Roles"}};
        p.keys.secret = "bench-secret-0123456789abcdef0123456789";
        jwt.providers = {p};
        config::Diagnostics diag;
        set = ProviderSet::create(jwt, diag);
        config::RouteAuth ra;
        ra.none = false;
        ra.providers = {"bench"};
        ra.claims = {{"roles", {"b"}}};
        auth = Authenticator::create(ra, *set);
        request.auth = "Bearer " + *make_token(alg, *bench_key(alg), {{"typ", "JWT"}}, bench_claims());
    }
};

void BM_AuthenticateCacheMiss(benchmark::State& state) {
    RouteFixture fx(Algorithm::HS256);
    for (auto _ : state) benchmark::DoNotOptimize(fx.auth->authenticate(fx.request, kNow, nullptr));
}
BENCHMARK(BM_AuthenticateCacheMiss);

void BM_AuthenticateCacheHit(benchmark::State& state) {
    RouteFixture fx(Algorithm::HS256);
    auto cache = make_token_cache(10000);
    fx.auth->authenticate(fx.request, kNow, cache.get());  // marked
    fx.auth->authenticate(fx.request, kNow, cache.get());  // cached
    for (auto _ : state) benchmark::DoNotOptimize(fx.auth->authenticate(fx.request, kNow, cache.get()));
}
BENCHMARK(BM_AuthenticateCacheHit);

// The load benchmark's "fresh" case: twice as many distinct tokens as the cache holds,
// cycled in order, so every call misses and verifies; admission keeps them out of the cache.
void BM_AuthenticateCacheChurn(benchmark::State& state, Algorithm alg) {
    RouteFixture fx(alg);
    constexpr std::size_t kCapacity = 10000;
    auto cache = make_token_cache(kCapacity);
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < 2 * kCapacity; ++i) {
        auto claims = bench_claims();
        claims["jti"] = std::to_string(i);
        tokens.push_back("Bearer " + *make_token(alg, *bench_key(alg), {{"typ", "JWT"}}, claims));
    }
    std::size_t i = 0;
    for (auto _ : state) {
        fx.request.auth = tokens[i];
        i = (i + 1) % tokens.size();
        benchmark::DoNotOptimize(fx.auth->authenticate(fx.request, kNow, cache.get()));
    }
}
BENCHMARK_CAPTURE(BM_AuthenticateCacheChurn, HS256, Algorithm::HS256);

// A route with two providers of distinct issuers and secrets, called with tokens of the
// second one: a valid token, and an expired one (refused after its signature checked out).
// Selection by `iss` verifies each with the second provider only, so both cost what they
// cost on a one-provider route (BM_OneProvider).
struct TwoIssuerFixture {
    std::shared_ptr<ProviderSet> set;
    std::shared_ptr<const Authenticator> one;  // route: [second]
    std::shared_ptr<const Authenticator> two;  // route: [first, second]
    BenchRequest valid;
    BenchRequest expired;

    TwoIssuerFixture() {
        config::Jwt jwt;
        for (const char* name : {"first", "second"}) {
            config::JwtProvider p;
            p.name = name;
            p.algorithms = {"HS256"};
            p.issuers = {std::string("https://") + name};
            p.audiences = {"api"};
            p.forward_claims = {{"sub", "X-User"}};
            p.keys.secret = std::string(name) + "-secret-0123456789abcdef0123456789";
            jwt.providers.push_back(p);
        }
        config::Diagnostics diag;
        set = ProviderSet::create(jwt, diag);
        config::RouteAuth ra;
        ra.none = false;
        ra.providers = {"second"};
        one = Authenticator::create(ra, *set);
        ra.providers = {"first", "second"};
        two = Authenticator::create(ra, *set);
        const KeyPtr key = Key::from_secret("second-secret-0123456789abcdef0123456789").key;
        auto claims = bench_claims();
        claims["iss"] = "https://second";
        valid.auth = "Bearer " + *make_token(Algorithm::HS256, *key, {{"typ", "JWT"}}, claims);
        claims["exp"] = kNow - 3600;
        claims["iat"] = kNow - 7200;
        expired.auth = "Bearer " + *make_token(Algorithm::HS256, *key, {{"typ", "JWT"}}, claims);
    }
};

// Signature checks per call, across both providers: the deterministic half of the figure.
void count_verifications(benchmark::State& state, const ProviderSet& set) {
    std::uint64_t checks = 0;
    for (const auto& p : set.providers()) checks += p->verifier().signature_checks();
    state.counters["verifications"] = benchmark::Counter(static_cast<double>(checks), benchmark::Counter::kAvgIterations);
}

void BM_OneProvider(benchmark::State& state, bool expired) {
    TwoIssuerFixture fx;
    const BenchRequest& r = expired ? fx.expired : fx.valid;
    for (auto _ : state) benchmark::DoNotOptimize(fx.one->authenticate(r, kNow, nullptr));
    count_verifications(state, *fx.set);
}
BENCHMARK_CAPTURE(BM_OneProvider, valid, false);
BENCHMARK_CAPTURE(BM_OneProvider, expired, true);

void BM_TwoProvidersSecondIssuer(benchmark::State& state, bool expired) {
    TwoIssuerFixture fx;
    const BenchRequest& r = expired ? fx.expired : fx.valid;
    for (auto _ : state) benchmark::DoNotOptimize(fx.two->authenticate(r, kNow, nullptr));
    count_verifications(state, *fx.set);
}
BENCHMARK_CAPTURE(BM_TwoProvidersSecondIssuer, valid, false);
BENCHMARK_CAPTURE(BM_TwoProvidersSecondIssuer, expired, true);

}  // namespace
