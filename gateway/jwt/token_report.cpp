#include "jwt/token_report.h"

#include <chrono>

#include <boost/json/serialize.hpp>

#include "config/strings.h"
#include "jwt/claim_rules.h"
#include "jwt/claims.h"
#include "jwt/provider.h"

namespace authgate::jwt {
namespace {

std::string json_text(const boost::json::value* v) {
    if (!v) return "absent";
    if (const auto* s = v->if_string()) return std::string(s->data(), s->size());
    return boost::json::serialize(*v);
}

// Where a time claim stands against `now`, for a reader.
std::string when(const boost::json::value* v, std::int64_t now) {
    const auto t = v ? numeric_date(*v) : std::nullopt;
    if (!t) return {};
    return *t > now ? "in " + human_seconds(*t - now) : human_seconds(now - *t) + " ago";
}

bool time_claims_numeric(const boost::json::object& payload) {
    for (const char* name : {"exp", "nbf", "iat"}) {
        const auto* v = payload.if_contains(name);
        if (v && !numeric_date(*v)) return false;
    }
    return true;
}

// The check a failure of Provider::verify belongs to. claim_invalid is the only status
// that more than one check returns: a time claim that is not a number, a non-string iss,
// or an aud that is neither a string nor an array of strings.
std::string_view check_of(Status s, const boost::json::object& payload, const config::JwtProvider& cfg) {
    switch (s) {
        case Status::algorithm_not_allowed: return "alg";
        case Status::keys_unavailable:
        case Status::no_key:
        case Status::unknown_kid:
        case Status::key_mismatch: return "key";
        case Status::signature_invalid: return "signature";
        case Status::claim_missing: return "required claims";
        case Status::token_expired: return "exp";
        case Status::token_not_yet_valid: return "nbf";
        case Status::issued_in_future: return "iat";
        case Status::lifetime_too_long: return "max_lifetime";
        case Status::issuer_not_allowed: return "iss";
        case Status::audience_not_allowed: return "aud";
        case Status::claim_value_invalid: return "forwarded claims";
        case Status::claim_invalid: {
            if (!time_claims_numeric(payload)) return "claim types";
            const auto* iss = payload.if_contains("iss");
            if (!cfg.issuers.empty() && iss && !iss->is_string()) return "iss";
            return "aud";
        }
        default: return {};
    }
}

}  // namespace

std::string human_seconds(std::int64_t s) {
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
    return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

TokenReport report_token(const Provider& provider, const ParsedToken& token, std::int64_t now) {
    TokenReport report;
    ParsedToken copy = token;  // verify() moves the payload out
    report.status = provider.verify(copy, now, report.verified);

    const auto& cfg = provider.config();
    const auto& payload = token.payload;
    const auto secs = [](config::Duration d) {
        return std::chrono::duration_cast<std::chrono::seconds>(d).count();
    };
    const std::string leeway = "leeway " + human_seconds(secs(cfg.leeway));
    const auto claim = [&](const char* name) { return payload.if_contains(name); };

    // Every check in the order verify() makes them; `applies` false: nothing to check.
    struct Step {
        std::string_view name;
        bool applies;
        std::string detail;
    };
    std::string key = token.has_kid ? "kid " + token.kid : std::string("no kid");
    if (report.status == Status::keys_unavailable) key += "; no keys: jwks_url not fetched";
    else if (report.status == Status::no_key) key += "; the provider has no keys";
    else if (report.status == Status::unknown_kid) key += ": no key has it";
    else if (report.status == Status::key_mismatch) key += "; no key of the type the algorithm needs";
    const std::string alg = token.alg ? std::string(to_string(*token.alg)) : std::string("none or unknown");
    std::vector<Step> steps = {
        {"alg", true,
         alg + (report.status == Status::algorithm_not_allowed ? "; allowed: " + strings::join(cfg.algorithms) : "")},
        {"key", true, key},
        {"signature", true, alg},
        {"claim types", !time_claims_numeric(payload), "exp, nbf and iat must be numbers"},
        {"required claims", !cfg.required_claims.empty(),
         cfg.required_claims.empty() ? "none configured" : strings::join(cfg.required_claims)},
        {"exp", claim("exp") != nullptr, claim("exp") ? when(claim("exp"), now) + ", " + leeway : "absent"},
        {"nbf", claim("nbf") != nullptr, claim("nbf") ? when(claim("nbf"), now) + ", " + leeway : "absent"},
        {"iat", claim("iat") != nullptr, claim("iat") ? when(claim("iat"), now) + ", " + leeway : "absent"},
        {"max_lifetime", cfg.max_lifetime.has_value(),
         cfg.max_lifetime ? "at most " + human_seconds(secs(*cfg.max_lifetime)) : "not configured"},
        {"iss", !cfg.issuers.empty(),
         cfg.issuers.empty() ? "not configured" : json_text(claim("iss")) + "; allowed: " + strings::join(cfg.issuers)},
        {"aud", !cfg.audiences.empty(),
         cfg.audiences.empty() ? "not configured" : json_text(claim("aud")) + "; allowed: " + strings::join(cfg.audiences)},
        {"forwarded claims", !cfg.forward_claims.empty(), cfg.forward_claims.empty() ? "none configured" : ""},
    };

    const std::string_view failed =
        report.status == Status::ok ? std::string_view() : check_of(report.status, payload, cfg);
    bool past_failure = false;
    for (auto& step : steps) {
        TokenCheck c{step.name, TokenCheck::Result::ok, Status::ok, std::move(step.detail)};
        if (past_failure) {
            c.result = TokenCheck::Result::not_reached;
        } else if (!failed.empty() && step.name == failed) {
            c.result = TokenCheck::Result::failed;
            c.status = report.status;
            past_failure = true;
        } else if (!step.applies) {
            c.result = TokenCheck::Result::not_applicable;
        }
        if (step.name == "claim types" && c.result != TokenCheck::Result::failed) continue;  // only news when it fails
        report.checks.push_back(std::move(c));
    }
    if (report.status != Status::ok && !past_failure) {
        // A status this report does not place: say it as verify() did.
        report.checks.push_back(TokenCheck{"verify", TokenCheck::Result::failed, report.status, {}});
    }
    return report;
}

std::vector<Status> report_claim_rules(const config::RouteAuth& auth, const boost::json::object& payload) {
    std::vector<Status> out;
    for (const auto& rule : auth.claims) out.push_back(ClaimRules({rule}).check(payload));
    return out;
}

}  // namespace authgate::jwt
