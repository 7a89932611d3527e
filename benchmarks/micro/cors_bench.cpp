// Cost of the CORS work on each response: actual() for an allowed origin with a small
// policy versus a large one (1000 exact origins + 20 regexes), with the per-worker origin
// cache hitting, and what a cache miss costs (the regexes run).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "cors/origin_cache.h"
#include "cors/policy.h"

namespace {

using namespace authgate;

// Discards headers but keeps the compiler from dropping the work.
class NullSink : public cors::HeaderSink {
public:
    void set(std::string_view name, std::string_view value) override {
        benchmark::DoNotOptimize(name.data());
        benchmark::DoNotOptimize(value.data());
    }
};

std::shared_ptr<const cors::Policy> compile(const config::CorsPolicy& cfg) {
    config::Diagnostics diag;
    auto policy = cors::Policy::create(cfg, diag);
    if (!diag.ok()) std::abort();
    return policy;
}

std::shared_ptr<const cors::Policy> small_policy() {
    config::CorsPolicy cfg;
    cfg.name = "small";
    cfg.allow_origins = {"https://app.example.com"};
    cfg.allow_origin_regexes = {R"(^https://[a-z0-9-]+\.example\.com$)"};
    cfg.expose_headers = {"X-Request-Id"};
    cfg.allow_credentials = true;
    return compile(cfg);
}

std::shared_ptr<const cors::Policy> big_policy() {
    config::CorsPolicy cfg;
    cfg.name = "big";
    for (int i = 0; i < 1000; ++i) cfg.allow_origins.push_back("https://app" + std::to_string(i) + ".example.com");
    for (int i = 0; i < 20; ++i) {
        cfg.allow_origin_regexes.push_back("^https://[a-z0-9-]+\\.tenant" + std::to_string(i) + "\\.example\\.net$");
    }
    cfg.expose_headers = {"X-Request-Id"};
    cfg.allow_credentials = true;
    return compile(cfg);
}

void run_actual(benchmark::State& state, const cors::Policy& policy, const std::string& origin,
                cors::OriginCache* cache) {
    NullSink sink;
    for (auto _ : state) policy.actual(origin, cache, sink);
}

void BM_ActualSmallPolicyExact(benchmark::State& state) {
    auto cache = cors::make_origin_cache(4096);
    run_actual(state, *small_policy(), "https://app.example.com", cache.get());
}
BENCHMARK(BM_ActualSmallPolicyExact);

void BM_ActualSmallPolicyRegexCacheHit(benchmark::State& state) {
    auto cache = cors::make_origin_cache(4096);
    run_actual(state, *small_policy(), "https://shop.example.com", cache.get());
}
BENCHMARK(BM_ActualSmallPolicyRegexCacheHit);

void BM_ActualBigPolicyExact(benchmark::State& state) {
    auto cache = cors::make_origin_cache(4096);
    run_actual(state, *big_policy(), "https://app777.example.com", cache.get());
}
BENCHMARK(BM_ActualBigPolicyExact);

void BM_ActualBigPolicyRegexCacheHit(benchmark::State& state) {
    auto cache = cors::make_origin_cache(4096);
    run_actual(state, *big_policy(), "https://shop.tenant19.example.net", cache.get());
}
BENCHMARK(BM_ActualBigPolicyRegexCacheHit);

// No cache: every call runs the regexes, as a cache miss does (last regex matches).
void BM_ActualBigPolicyRegexCacheMiss(benchmark::State& state) {
    run_actual(state, *big_policy(), "https://shop.tenant19.example.net", nullptr);
}
BENCHMARK(BM_ActualBigPolicyRegexCacheMiss);

// A disallowed origin on a miss: all 20 regexes run and fail.
void BM_ActualBigPolicyDisallowedCacheMiss(benchmark::State& state) {
    run_actual(state, *big_policy(), "https://evil.example.org", nullptr);
}
BENCHMARK(BM_ActualBigPolicyDisallowedCacheMiss);

}  // namespace
