#include "jwt/provider.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "jwt/base64url.h"

namespace authgate::jwt {
namespace {

std::uint64_t next_provider_id() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::int64_t seconds(config::Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

ClaimsValidator::Options validator_options(const config::JwtProvider& cfg) {
    ClaimsValidator::Options o;
    o.issuers = cfg.issuers;
    o.audiences = cfg.audiences;
    o.required = cfg.required_claims;
    o.leeway_s = seconds(cfg.leeway);
    if (cfg.max_lifetime) o.max_lifetime_s = seconds(*cfg.max_lifetime);
    return o;
}

const config::Mark& item_mark(const config::Marks& marks, const std::string& key, std::size_t i) {
    const std::string item = key + "[" + std::to_string(i) + "]";
    if (marks.keys.count(item)) return marks.at(item);
    return marks.at(key);
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in.good() && !in.eof()) return false;
    out = std::move(ss).str();
    return true;
}

std::string family_name(const Key& k) {
    switch (k.family()) {
        case KeyFamily::hmac: return "HMAC secret";
        case KeyFamily::rsa: return "RSA key";
        case KeyFamily::ec: return "EC key";
        case KeyFamily::okp: return "Ed25519 key";
    }
    return "key";
}

// Loads every static key source of cfg; each problem is reported at its own mark.
std::vector<KeyPtr> load_static_keys(const config::JwtProvider& cfg, config::Diagnostics& diag) {
    std::vector<KeyPtr> keys;
    const auto& k = cfg.keys;
    const auto& marks = k.marks;
    if (k.secret) {
        auto r = Key::from_secret(*k.secret);
        if (r.key)
            keys.push_back(r.key);
        else
            diag.error(marks.at("secret"), "jwt provider " + cfg.name + ": secret: " + r.error);
    }
    if (k.secret_base64) {
        std::string raw;
        if (!base64_decode_any(*k.secret_base64, raw)) {
            diag.error(marks.at("secret_base64"), "jwt provider " + cfg.name + ": secret_base64 is not valid base64");
        } else {
            auto r = Key::from_secret(raw);
            if (r.key)
                keys.push_back(r.key);
            else
                diag.error(marks.at("secret_base64"), "jwt provider " + cfg.name + ": secret_base64: " + r.error);
        }
    }
    if (k.public_key_file) {
        std::string pem;
        if (!read_file(*k.public_key_file, pem)) {
            diag.error(marks.at("public_key_file"), "cannot read public_key_file " + *k.public_key_file);
        } else {
            auto r = Key::from_public_pem(pem);
            if (r.key)
                keys.push_back(r.key);
            else
                diag.error(marks.at("public_key_file"), *k.public_key_file + ": " + r.error);
        }
    }
    if (k.jwks_file) {
        std::string json;
        if (!read_file(*k.jwks_file, json)) {
            diag.error(marks.at("jwks_file"), "cannot read jwks_file " + *k.jwks_file);
        } else {
            auto r = parse_jwks(json);
            if (!r.ok) {
                diag.error(marks.at("jwks_file"), *k.jwks_file + ": " + r.error);
            } else {
                for (const auto& s : r.skipped) diag.warning(marks.at("jwks_file"), *k.jwks_file + ": " + s);
                if (r.keys.empty()) diag.error(marks.at("jwks_file"), *k.jwks_file + ": no usable signing key");
                keys.insert(keys.end(), r.keys.begin(), r.keys.end());
            }
        }
    }
    return keys;
}

}  // namespace

Provider::Provider(const config::JwtProvider& cfg)
    : cfg_(cfg),
      id_(next_provider_id()),
      validator_(validator_options(cfg)),
      extractor_(cfg.token_from),
      forward_(cfg.forward_claims) {}

std::shared_ptr<Provider> Provider::create(const config::JwtProvider& cfg, config::Diagnostics& diag) {
    return create_with_keys(cfg, load_static_keys(cfg, diag), diag);
}

std::shared_ptr<Provider> Provider::create_with_keys(const config::JwtProvider& cfg, std::vector<KeyPtr> keys,
                                                     config::Diagnostics& diag) {
    auto p = std::shared_ptr<Provider>(new Provider(cfg));
    const std::string who = "jwt provider " + cfg.name + ": ";
    if (cfg.algorithms.empty()) diag.error(cfg.marks.at("algorithms"), who + "algorithms: at least one is required");
    for (std::size_t i = 0; i < cfg.algorithms.size(); ++i) {
        const auto& name = cfg.algorithms[i];
        if (auto a = parse_algorithm(name)) {
            p->algorithms_.add(*a);
        } else if (name == "none" || name == "None" || name == "NONE") {
            diag.error(item_mark(cfg.marks, "algorithms", i), who + "algorithm \"none\" is never accepted");
        } else {
            diag.error(item_mark(cfg.marks, "algorithms", i), who + "unknown algorithm \"" + name + "\"");
        }
    }
    const auto& k = cfg.keys;
    if (!k.secret && !k.secret_base64 && !k.public_key_file && !k.jwks_file && !k.jwks_url && keys.empty())
        diag.error(k.marks.self, who + "keys: at least one key source is required");
    if (k.jwks_url) {
        const std::string& url = *k.jwks_url;
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
            diag.error(k.marks.at("jwks_url"), who + "jwks_url must be an http:// or https:// URL");
        if (k.jwks_refresh <= config::Duration::zero())
            diag.error(k.marks.at("jwks_refresh"), who + "jwks_refresh must be positive");
    }
    // A key no allowed algorithm can use is dead weight (warning); no usable key at all
    // (and no JWKS URL that may bring one) means every token would fail (error).
    bool any_usable = false;
    for (const auto& key : keys) {
        bool usable = false;
        for (int a = 0; a < kAlgorithmCount; ++a) {
            const auto alg = static_cast<Algorithm>(a);
            usable = usable || (p->algorithms_.contains(alg) && key->compatible(alg));
        }
        if (!usable && !p->algorithms_.empty())
            diag.warning(k.marks.self, who + "a " + family_name(*key) + " matches none of the algorithms");
        if (usable && key->family() == KeyFamily::hmac && key->bits() < 256)
            diag.warning(k.marks.self, who + "HMAC secret shorter than 32 bytes is weak");
        any_usable = any_usable || usable;
    }
    if (!keys.empty() && !any_usable && !k.jwks_url && !p->algorithms_.empty())
        diag.error(cfg.marks.at("algorithms"), who + "no configured key can be used with the listed algorithms");

    p->static_keys_ = keys;
    if (!keys.empty()) p->publish(std::move(keys));
    return p;
}

bool Provider::issuer_matches(const boost::json::object& payload) const {
    if (cfg_.issuers.empty()) return false;
    const auto* iss = payload.if_contains("iss");
    if (!iss || !iss->is_string()) return false;
    const auto& s = iss->get_string();
    return std::any_of(cfg_.issuers.begin(), cfg_.issuers.end(),
                       [&](const std::string& i) { return std::string_view(s.data(), s.size()) == i; });
}

void Provider::publish(std::vector<KeyPtr> keys) {
    std::lock_guard lock(set_mu_);
    publish_locked(std::move(keys));
}

void Provider::publish_locked(std::vector<KeyPtr> keys) {
    auto set = std::make_shared<KeySet>();
    set->keys = std::move(keys);
    set->generation = next_key_generation();
    set_ = std::move(set);
    generation_.store(set_->generation, std::memory_order_release);
}

void Provider::publish_fetched(std::vector<KeyPtr> keys) {
    std::lock_guard lock(set_mu_);
    publish_fetched_locked(std::move(keys));
}

void Provider::publish_fetched_locked(std::vector<KeyPtr> keys) {
    // Fetched keys first: a rotated issuer key should win over a stale static copy.
    std::vector<KeyPtr> merged = keys;
    merged.insert(merged.end(), static_keys_.begin(), static_keys_.end());
    fetched_ = std::move(keys);
    publish_locked(std::move(merged));
    ever_fetched_.store(true, std::memory_order_release);
}

bool Provider::carry_over_fetched(const Provider& previous) {
    if (&previous == this || !has_jwks_url() || !previous.has_jwks_url() || previous.jwks_url() != jwks_url())
        return false;
    std::vector<KeyPtr> keys;
    {
        std::lock_guard lock(previous.set_mu_);  // its fetcher may still be publishing
        keys = previous.fetched_;
    }
    if (keys.empty()) return false;
    // Checked under the lock our fetcher publishes under: a fetch that already landed wins.
    std::lock_guard lock(set_mu_);
    if (ever_fetched_.load(std::memory_order_acquire)) return false;
    spdlog::debug("jwt provider {}: starts with the {} keys last fetched from {}", cfg_.name, keys.size(), jwks_url());
    publish_fetched_locked(std::move(keys));
    return true;
}

KeySetPtr Provider::key_set() const {
    // Per-thread copy, reused while the generation stands still: the steady state costs
    // one atomic load and no lock. A direct-mapped table keyed by provider id; a collision
    // only costs a trip through the mutex.
    struct Slot {
        std::uint64_t provider = 0;
        std::uint64_t generation = 0;
        KeySetPtr set;
    };
    thread_local std::array<Slot, 16> slots;
    const std::uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == 0) return nullptr;
    Slot& slot = slots[id_ % slots.size()];
    if (slot.provider == id_ && slot.generation == gen) return slot.set;
    std::lock_guard lock(set_mu_);
    slot.provider = id_;
    slot.generation = set_->generation;
    slot.set = set_;
    return set_;
}

void Provider::record_fetch(bool success) {
    {
        std::lock_guard lock(stats_mu_);
        ++stats_.attempts;
        ++(success ? stats_.successes : stats_.failures);
    }
    stats_cv_.notify_all();
}

JwksStats Provider::jwks_stats() const {
    std::lock_guard lock(stats_mu_);
    JwksStats s = stats_;
    s.kid_refetch_requests = kid_requests_.load();
    return s;
}

bool Provider::wait_for_fetch_attempts(std::uint64_t attempts, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(stats_mu_);
    return stats_cv_.wait_for(lock, timeout, [&] { return stats_.attempts >= attempts; });
}

void Provider::request_refetch() const {
    if (!has_jwks_url()) return;
    const std::int64_t now = steady_ms();
    std::int64_t last = last_kid_refetch_ms_.load(std::memory_order_relaxed);
    if (now - last < cooldown_ms_.load(std::memory_order_relaxed)) return;
    // One winner per cooldown window: a flood of unknown kids cannot hammer the issuer.
    if (!last_kid_refetch_ms_.compare_exchange_strong(last, now, std::memory_order_acq_rel)) return;
    kid_requests_.fetch_add(1, std::memory_order_relaxed);
    refetch_pending_.store(true, std::memory_order_release);
    if (signal_) signal_->poke();
}

Status Provider::verify(ParsedToken& t, std::int64_t now, std::shared_ptr<const VerifiedToken>& out) const {
    // The allow-list decides, never the token: "none" and unknown names have no Algorithm.
    if (!t.alg || !algorithms_.contains(*t.alg)) return Status::algorithm_not_allowed;
    const Algorithm alg = *t.alg;
    const KeySetPtr set = key_set();
    const bool unavailable = has_jwks_url() && !ever_fetched();
    if (!set || set->keys.empty()) return unavailable ? Status::keys_unavailable : Status::no_key;

    // A key with a kid only serves tokens naming it; a key without one serves any token.
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
    if (!verified) {
        if (any_candidate_compatible) return Status::signature_invalid;
        if (!kid_known) {
            if (unavailable) return Status::keys_unavailable;
            request_refetch();  // maybe the issuer rotated keys: fetch soon, answer now
            return Status::unknown_kid;
        }
        return unavailable ? Status::keys_unavailable : Status::key_mismatch;
    }

    TimeClaims times;
    if (Status s = validator_.validate(t.payload, now, times); s != Status::ok) return s;
    auto v = std::make_shared<VerifiedToken>();
    if (Status s = forward_.build(t.payload, v->forward_headers); s != Status::ok) {
        spdlog::warn("jwt provider {}: claim value with control characters refused", cfg_.name);
        return s;
    }
    if (!cfg_.forward_payload_header.empty())
        v->forward_headers.emplace_back(cfg_.forward_payload_header, std::string(t.payload_b64));
    v->exp = times.exp.value_or(0);
    v->times = times;
    v->provider_id = id_;
    v->generation = set->generation;
    v->payload = std::move(t.payload);
    out = std::move(v);
    return Status::ok;
}

}  // namespace authgate::jwt
