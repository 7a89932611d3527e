// ProviderSet and the route Authenticator: the request-path entry point of jwt/.
#include "jwt/authenticator.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>
#include <mutex>

#include <spdlog/spdlog.h>

#include "config/strings.h"
#include "jwt/claim_rules.h"
#include "jwt/jwks_fetcher.h"
#include "jwt/jws.h"
#include "jwt/provider.h"
#include "jwt/token_cache.h"

namespace authgate::jwt {

// ---------------------------------------------------------------- ProviderSet

struct ProviderSet::Impl {
    std::vector<std::shared_ptr<Provider>> providers;  // config order
    std::vector<std::string> identity_headers;
    std::shared_ptr<RefetchSignal> signal = std::make_shared<RefetchSignal>();
    std::mutex fetcher_mu;
    std::unique_ptr<JwksFetcher> fetcher;
};

ProviderSet::ProviderSet() : impl_(std::make_unique<Impl>()) {}
ProviderSet::~ProviderSet() { stop(); }

std::shared_ptr<ProviderSet> ProviderSet::create(const config::Jwt& jwt, config::Diagnostics& diag) {
    auto set = std::shared_ptr<ProviderSet>(new ProviderSet());
    for (const auto& cfg : jwt.providers) {
        auto p = Provider::create(cfg, diag);
        p->key_store().attach_signal(set->impl_->signal);
        p->set_index(static_cast<std::uint32_t>(set->impl_->providers.size()));
        set->impl_->providers.push_back(std::move(p));
    }
    auto& headers = set->impl_->identity_headers;
    auto add = [&](const std::string& name) {
        std::string h = strings::lower(name);
        if (!h.empty() && std::find(headers.begin(), headers.end(), h) == headers.end()) headers.push_back(std::move(h));
    };
    for (const auto& cfg : jwt.providers) {
        for (const auto& fc : cfg.forward_claims) add(fc.second);
        add(cfg.forward_payload_header);
    }
    return set;
}

std::shared_ptr<const Provider> ProviderSet::find(std::string_view name) const {
    for (const auto& p : impl_->providers) {
        if (p->name() == name) return p;
    }
    return nullptr;
}

std::vector<std::shared_ptr<const Provider>> ProviderSet::providers() const {
    return {impl_->providers.begin(), impl_->providers.end()};
}

const std::vector<std::string>& ProviderSet::identity_headers() const { return impl_->identity_headers; }

void ProviderSet::carry_over_keys(const ProviderSet& previous) {
    // By URL, not by name: the keys belong to the issuer's endpoint.
    for (const auto& p : impl_->providers) {
        for (const auto& old : previous.impl_->providers) {
            if (!p->key_store().carry_over_fetched(old->key_store())) continue;
            spdlog::debug("jwt provider {}: starts with the keys last fetched from {}", p->name(), p->remote_source());
            break;
        }
    }
}

std::unique_ptr<JwksFetcher> ProviderSet::make_fetcher() {
    std::vector<std::shared_ptr<Provider>> with_url;
    for (const auto& p : impl_->providers) {
        if (p->has_remote_keys()) with_url.push_back(p);
    }
    if (with_url.empty()) return nullptr;
    return std::make_unique<JwksFetcher>(std::move(with_url), JwksFetcher::Options{});
}

void ProviderSet::start() {
    std::lock_guard lock(impl_->fetcher_mu);
    if (impl_->fetcher) return;
    impl_->fetcher = make_fetcher();
    if (impl_->fetcher) impl_->fetcher->start();
}

void ProviderSet::stop() {
    std::unique_ptr<JwksFetcher> fetcher;
    {
        std::lock_guard lock(impl_->fetcher_mu);
        fetcher = std::move(impl_->fetcher);
    }
    if (fetcher) fetcher->stop();
}

void ProviderSet::set_kid_refetch_cooldown(std::chrono::milliseconds cooldown) {
    for (const auto& p : impl_->providers) p->key_store().set_refetch_cooldown(cooldown);
}

bool ProviderSet::wait_for_first_fetch(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const auto& p : impl_->providers) {
        if (!p->has_remote_keys()) continue;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (!p->wait_for_fetch_attempts(1, std::max(left, std::chrono::milliseconds(0)))) return false;
    }
    return true;
}

// ---------------------------------------------------------------- Authenticator

namespace {

// How far a provider got with a token: the failure reported for a multi-provider route is
// the one from the provider that got furthest (a valid signature with an expired exp
// says more than another provider's "unknown kid").
int specificity(Status s) {
    switch (s) {
        case Status::ok: return 100;
        case Status::keys_unavailable: return 50;
        case Status::signature_invalid: return 40;
        case Status::unknown_kid: return 30;
        case Status::key_mismatch:
        case Status::no_key: return 20;
        case Status::algorithm_not_allowed: return 10;
        default: return 60;  // claim checks: the signature was good
    }
}

class NoAuth final : public Authenticator {
public:
    AuthOutcome authenticate(const RequestView&, std::int64_t, TokenCache*) const override { return {}; }
};

class RouteAuthenticator final : public Authenticator {
public:
    RouteAuthenticator(config::RouteAuth::Mode mode, std::vector<std::shared_ptr<const Provider>> providers,
                       ClaimRules rules)
        : mode_(mode), providers_(std::move(providers)), rules_(std::move(rules)), extractor_(merged_sources()) {
        // For each merged source, the providers that read tokens from it (a token found in
        // a cookie is only offered to providers configured to take it from there).
        for (const auto& src : extractor_.sources()) {
            std::vector<std::size_t> users;
            for (std::size_t i = 0; i < providers_.size(); ++i) {
                const auto& own = providers_[i]->extractor().sources();
                if (std::any_of(own.begin(), own.end(), [&](const auto& s) { return same_source(s, src); }))
                    users.push_back(i);
            }
            source_users_.push_back(std::move(users));
        }
    }

    AuthOutcome authenticate(const RequestView& request, std::int64_t now, TokenCache* cache) const override;

private:
    std::vector<config::TokenSource> merged_sources() const {
        std::vector<config::TokenSource> out;
        for (const auto& p : providers_) {
            for (const auto& s : p->extractor().sources()) {
                if (std::none_of(out.begin(), out.end(), [&](const auto& o) { return same_source(o, s); }))
                    out.push_back(s);
            }
        }
        return out;
    }

    AuthOutcome deny(AuthOutcome out, Status status) const {
        out.status = status;
        out.verified.reset();
        if (mode_ == config::RouteAuth::Mode::report_only) {
            out.action = AuthOutcome::Action::forward;
            out.report_only_denial = true;
        } else if (status == Status::keys_unavailable) {
            out.action = AuthOutcome::Action::unavailable;  // not the client's fault: 503
        } else {
            out.action = AuthOutcome::Action::deny_401;
        }
        return out;
    }

    config::RouteAuth::Mode mode_;
    std::vector<std::shared_ptr<const Provider>> providers_;
    ClaimRules rules_;
    TokenExtractor extractor_;
    std::vector<std::vector<std::size_t>> source_users_;
};

AuthOutcome RouteAuthenticator::authenticate(const RequestView& request, std::int64_t now, TokenCache* cache) const {
    AuthOutcome out;
    if (providers_.empty()) return deny(std::move(out), Status::no_key);  // fail closed

    std::string scratch;
    const auto found = extractor_.extract(request, scratch);
    if (!found) {
        if (mode_ == config::RouteAuth::Mode::optional) return out;
        return deny(std::move(out), Status::token_missing);
    }
    const std::string_view token = found->token;
    const auto& src = extractor_.sources()[found->source];
    out.token_present = true;
    out.location = TokenLocation{src.kind, src.name};
    const auto& users = source_users_[found->source];
    for (std::size_t i : users) out.strip_token = out.strip_token || providers_[i]->strip_token();

    if (token.size() > kMaxTokenBytes) return deny(std::move(out), Status::token_too_large);

    std::shared_ptr<const VerifiedToken> verified;
    const Provider* by = nullptr;
    const std::size_t token_hash = cache ? TokenCache::hash(token) : 0;
    if (cache) {
        for (std::size_t i : users) {
            const Provider& p = *providers_[i];
            auto hit = cache->find(p.id(), token, token_hash, p.key_store().generation());
            if (!hit) continue;
            if (Status s = p.recheck(*hit, now); s != Status::ok) {
                cache->erase(p.id(), token);  // expired entries leave at once
                out.provider = &p;
                return deny(std::move(out), s);
            }
            verified = std::move(hit);
            by = &p;
            break;
        }
    }

    if (!verified) {
        ParsedToken parsed;
        if (Status s = parse_token(token, parsed); s != Status::ok) return deny(std::move(out), s);
        // Selection by iss: when providers name the token's issuer, only they verify it
        // (the 401 names their failure, and a token of issuer A costs no verification by
        // B). A token naming no provider's issuer, or none at all, is offered to each
        // provider in route order. The iss read here is unverified: it only picks who
        // checks the signature, and the picked provider checks iss itself.
        std::array<std::size_t, 16> order_small{};
        std::vector<std::size_t> order_big;
        std::size_t* order = order_small.data();
        if (users.size() > order_small.size()) {
            order_big.resize(users.size());
            order = order_big.data();
        }
        std::size_t n = 0;
        for (std::size_t i : users)
            if (providers_[i]->issuer_matches(parsed.payload)) order[n++] = i;
        if (n == 0)
            for (std::size_t i : users) order[n++] = i;

        Status best = Status::algorithm_not_allowed;
        const Provider* best_by = nullptr;
        for (std::size_t k = 0; k < n; ++k) {
            const Provider& p = *providers_[order[k]];
            const Status s = p.verify(parsed, now, verified);
            if (s == Status::ok) {
                by = &p;
                break;
            }
            if (!best_by || specificity(s) > specificity(best)) {
                best = s;
                best_by = &p;
            }
        }
        if (!verified) {
            out.provider = best_by;
            return deny(std::move(out), best);
        }
        if (cache) cache->offer(by->id(), token, token_hash, verified);
    }

    out.provider = by;
    out.strip_token = by->strip_token();
    out.status = rules_.check(verified->payload);
    out.verified = verified;
    if (out.status != Status::ok) {
        if (mode_ == config::RouteAuth::Mode::report_only) {
            out.report_only_denial = true;  // token is genuine: its claims still go upstream
        } else {
            out.action = AuthOutcome::Action::deny_403;
            out.verified.reset();
        }
    }
    return out;
}

}  // namespace

std::shared_ptr<const Authenticator> Authenticator::create(const config::RouteAuth& auth,
                                                           const ProviderSet& providers) {
    // The references and the shape of auth (known providers, at least one, a value per
    // claim rule) are the loader's to check (config/loader.cpp). A RouteAuth built by hand
    // that breaks them fails closed: unknown providers accept nothing, a route without
    // providers refuses every token, a claim rule without values matches none.
    if (auth.none) return std::make_shared<NoAuth>();
    std::vector<std::shared_ptr<const Provider>> list;
    for (const auto& name : auth.providers) {
        auto p = providers.find(name);
        assert(p && "the loader checks provider names");
        if (p) list.push_back(std::move(p));
    }
    return std::make_shared<RouteAuthenticator>(auth.mode, std::move(list), ClaimRules(auth.claims));
}

}  // namespace authgate::jwt
