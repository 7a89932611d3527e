#include "jwt/provider.h"

#include <algorithm>
#include <atomic>
#include <cassert>

#include <spdlog/spdlog.h>

#include "config/files.h"
#include "config/strings.h"
#include "jwt/base64url.h"

namespace authgate::jwt {
namespace {

std::uint64_t next_provider_id() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::int64_t seconds(config::Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

ClaimsValidator::Options validator_options(const config::JwtProvider& cfg) {
    ClaimsValidator::Options o;
    o.issuers = cfg.issuers;
    o.audiences = cfg.audiences;
    o.required = cfg.required_claims;
    o.leeway_s = seconds(cfg.leeway);
    if (cfg.max_lifetime) o.max_lifetime_s = seconds(*cfg.max_lifetime);
    return o;
}

// The allow-list in config order. Names the loader refused ("none", unknown ones) are
// not in a loaded config; in one built by hand they allow nothing.
std::vector<Algorithm> allowed_algorithms(const config::JwtProvider& cfg) {
    std::vector<Algorithm> out;
    for (const auto& name : cfg.algorithms) {
        if (auto a = parse_algorithm(name)) out.push_back(*a);
    }
    return out;
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

// A key and the config value it came from.
struct SourcedKey {
    KeyPtr key;
    const config::Mark* at;
};

// Loads every static key source of cfg; each problem is reported at its own mark.
std::vector<SourcedKey> load_static_keys(const config::JwtProvider& cfg, config::Diagnostics& diag) {
    std::vector<SourcedKey> keys;
    const auto& k = cfg.keys;
    const auto& marks = k.marks;
    if (k.secret) {
        auto r = Key::from_secret(*k.secret);
        if (r.key)
            keys.push_back({r.key, &marks.at("secret")});
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
                keys.push_back({r.key, &marks.at("secret_base64")});
            else
                diag.error(marks.at("secret_base64"), "jwt provider " + cfg.name + ": secret_base64: " + r.error);
        }
    }
    if (k.public_key_file) {
        const auto pem = config::read_file(*k.public_key_file);
        if (!pem) {
            diag.error(marks.at("public_key_file"), "cannot read public_key_file " + *k.public_key_file);
        } else {
            auto r = Key::from_public_pem(*pem);
            if (r.key)
                keys.push_back({r.key, &marks.at("public_key_file")});
            else
                diag.error(marks.at("public_key_file"), *k.public_key_file + ": " + r.error);
        }
    }
    if (k.jwks_file) {
        const auto json = config::read_file(*k.jwks_file);
        if (!json) {
            diag.error(marks.at("jwks_file"), "cannot read jwks_file " + *k.jwks_file);
        } else {
            auto r = parse_jwks(*json);
            if (!r.ok) {
                diag.error(marks.at("jwks_file"), *k.jwks_file + ": " + r.error);
            } else {
                for (const auto& s : r.skipped) diag.warning(marks.at("jwks_file"), *k.jwks_file + ": " + s);
                if (r.keys.empty()) diag.error(marks.at("jwks_file"), *k.jwks_file + ": no usable signing key");
                for (auto& key : r.keys) keys.push_back({std::move(key), &marks.at("jwks_file")});
            }
        }
    }
    return keys;
}

std::vector<std::string> normalized_types(const config::JwtProvider& cfg) {
    std::vector<std::string> out;
    if (cfg.types)
        for (const auto& t : *cfg.types) out.push_back(Provider::normalize_type(t));
    return out;
}

}  // namespace

Provider::Provider(const config::JwtProvider& cfg, std::vector<KeyPtr> keys)
    : cfg_(cfg),
      id_(next_provider_id()),
      keys_(std::move(keys), cfg.remote_source()),
      verifier_(allowed_algorithms(cfg), keys_),
      types_(normalized_types(cfg)),
      validator_(validator_options(cfg)),
      extractor_(cfg.token_from),
      forward_(cfg.forward_claims) {}

std::shared_ptr<Provider> Provider::create(const config::JwtProvider& cfg, config::Diagnostics& diag) {
    std::vector<KeyPtr> keys;
    std::vector<const config::Mark*> sources;
    for (auto& [key, at] : load_static_keys(cfg, diag)) {
        keys.push_back(std::move(key));
        sources.push_back(at);
    }
    return compile(cfg, std::move(keys), sources, diag);
}

std::shared_ptr<Provider> Provider::create_with_keys(const config::JwtProvider& cfg, std::vector<KeyPtr> keys,
                                                     config::Diagnostics& diag) {
    const std::vector<const config::Mark*> sources(keys.size(), &cfg.keys.marks.self);
    return compile(cfg, std::move(keys), sources, diag);
}

std::shared_ptr<Provider> Provider::compile(const config::JwtProvider& cfg, std::vector<KeyPtr> keys,
                                            const std::vector<const config::Mark*>& sources,
                                            config::Diagnostics& diag) {
    // The loader's rules (config/loader.cpp), not repeated here: a non-empty allow-list of
    // known algorithms, a key source, an http(s) jwks_url, a positive jwks_refresh.
    assert(!cfg.remote_source() || cfg.keys.jwks_refresh > config::Duration::zero());
    const std::string who = "jwt provider " + cfg.name + ": ";
    auto p = std::shared_ptr<Provider>(new Provider(cfg, keys));
    const AlgorithmSet& allowed = p->verifier().algorithms();
    // What only the keys can tell. A key no allowed algorithm can use is dead weight
    // (warning); no usable key at all (and no JWKS URL that may bring one) means every
    // token would fail (error).
    bool any_usable = false;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const Key& key = *keys[i];
        bool usable = false;
        for (int a = 0; a < kAlgorithmCount; ++a) {
            const auto alg = static_cast<Algorithm>(a);
            usable = usable || (allowed.contains(alg) && key.compatible(alg));
        }
        if (!usable && !allowed.empty())
            diag.warning(cfg.keys.marks.self, who + "a " + family_name(key) + " matches none of the algorithms");
        // RFC 7518 3.2: an HMAC key at least as long as the hash output. Here, not in the
        // loader: secrets also come from secret_base64 and jwks_file.
        if (usable && key.family() == KeyFamily::hmac && key.bits() < 256)
            diag.warning(*sources[i], who + "HMAC secret is shorter than 32 bytes; tokens signed with it are easy to forge");
        any_usable = any_usable || usable;
    }
    if (!keys.empty() && !any_usable && !cfg.remote_source() && !allowed.empty())
        diag.error(cfg.marks.at("algorithms"), who + "no configured key can be used with the listed algorithms");
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

std::string Provider::normalize_type(std::string_view typ) {
    constexpr std::string_view prefix = "application/";
    if (typ.size() > prefix.size() && strings::iequals(typ.substr(0, prefix.size()), prefix) &&
        typ.find('/', prefix.size()) == std::string_view::npos)
        typ.remove_prefix(prefix.size());
    return strings::lower(std::string(typ));
}

// RFC 8725 3.11: explicit typing keeps an ID token or a refresh token signed by the same
// key from passing as an access token. After the signature: a forger learns nothing.
Status Provider::check_type(const ParsedToken& t, CheckRecorder* rec) const {
    if (!cfg_.types) {
        record_not_applicable(rec, Check::typ, "not configured");
        return Status::ok;
    }
    bool allowed = false;
    if (!t.has_typ) {
        allowed = std::find(types_.begin(), types_.end(), std::string()) != types_.end();
    } else {
        const std::string typ = normalize_type(t.typ);
        allowed = std::find(types_.begin(), types_.end(), typ) != types_.end();
    }
    const Status s = allowed ? Status::ok : Status::token_type_not_allowed;
    record(rec, Check::typ, s, [&] {
        std::string listed;
        for (const auto& v : *cfg_.types) listed += (listed.empty() ? "" : ", ") + (v.empty() ? "\"\"" : v);
        return (t.has_typ ? "typ " + t.typ : std::string("no typ")) + "; allowed: " + listed;
    });
    return s;
}

Status Provider::verify(ParsedToken& t, std::int64_t now, std::shared_ptr<const VerifiedToken>& out,
                        CheckRecorder* rec) const {
    std::uint64_t generation = 0;
    if (Status s = verifier_.verify(t, generation, rec); s != Status::ok) return s;
    if (Status s = check_type(t, rec); s != Status::ok) return s;
    TimeClaims times;
    if (Status s = validator_.validate(t.payload, now, times, rec); s != Status::ok) return s;
    auto v = std::make_shared<VerifiedToken>();
    const Status forwarded = forward_.build(t.payload, v->forward_headers);
    if (cfg_.forward_claims.empty())
        record_not_applicable(rec, Check::forwarded_claims, "none configured");
    else
        record(rec, Check::forwarded_claims, forwarded, [] { return std::string(); });
    if (forwarded != Status::ok) {
        spdlog::warn("jwt provider {}: claim value with control characters refused", cfg_.name);
        return forwarded;
    }
    if (!cfg_.forward_payload_header.empty())
        v->forward_headers.emplace_back(cfg_.forward_payload_header, std::string(t.payload_b64));
    v->exp = times.exp.value_or(0);
    v->times = times;
    v->provider_id = id_;
    v->generation = generation;
    v->payload = std::move(t.payload);
    out = std::move(v);
    return Status::ok;
}

}  // namespace authgate::jwt
