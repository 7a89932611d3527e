#include "jwt/claims.h"

#include <algorithm>
#include <cmath>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "config/strings.h"

namespace authgate::jwt {
namespace {
constexpr std::int64_t kClamp = std::int64_t{1} << 52;

bool contains(const std::vector<std::string>& list, const boost::json::string& s) {
    const std::string_view v(s.data(), s.size());
    return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return x == v; });
}

// exp/nbf/iat: absent is fine, present must be a number.
Status read_time(const boost::json::object& payload, std::string_view name, std::optional<std::int64_t>& out) {
    const auto* v = payload.if_contains(name);
    if (!v) return Status::ok;
    out = numeric_date(*v);
    return out ? Status::ok : Status::claim_invalid;
}

// The rest only describes a check for a reader (a recorder is present).
std::string json_text(const boost::json::value* v) {
    if (!v) return "absent";
    if (const auto* s = v->if_string()) return std::string(s->data(), s->size());
    return boost::json::serialize(*v);
}

// Where a time claim stands against `now`, and the leeway.
std::string when(std::int64_t t, std::int64_t now, std::int64_t leeway) {
    return (t > now ? "in " + human_seconds(t - now) : human_seconds(now - t) + " ago") + ", leeway " +
           human_seconds(leeway);
}
}  // namespace

std::optional<std::int64_t> numeric_date(const boost::json::value& v) {
    if (v.is_int64()) return std::clamp(v.get_int64(), -kClamp, kClamp);
    if (v.is_uint64()) return std::min<std::uint64_t>(v.get_uint64(), static_cast<std::uint64_t>(kClamp));
    if (v.is_double()) {
        const double d = v.get_double();
        if (!std::isfinite(d)) return std::nullopt;
        // RFC 7519 allows fractional seconds; whole seconds are enough for our checks.
        return static_cast<std::int64_t>(std::clamp(std::floor(d), -static_cast<double>(kClamp), static_cast<double>(kClamp)));
    }
    return std::nullopt;
}

ClaimsValidator::ClaimsValidator(Options options) : options_(std::move(options)) {
    options_.leeway_s = std::clamp<std::int64_t>(options_.leeway_s, 0, kClamp);
}

Status ClaimsValidator::check_time(const TimeClaims& t, std::int64_t now, CheckRecorder* rec) const {
    const std::int64_t leeway = options_.leeway_s;
    // One time claim: absent is not applicable; `late` says whether it fails now.
    const auto check = [&](Check c, const std::optional<std::int64_t>& v, bool late, Status failure) {
        if (!v) {
            record_not_applicable(rec, c, "absent");
            return Status::ok;
        }
        const Status s = late ? failure : Status::ok;
        record(rec, c, s, [&] { return when(*v, now, leeway); });
        return s;
    };
    // RFC 7519 4.1.4: the token is valid strictly before exp.
    if (Status s = check(Check::exp, t.exp, t.exp && now - leeway >= *t.exp, Status::token_expired); s != Status::ok)
        return s;
    if (Status s = check(Check::nbf, t.nbf, t.nbf && now + leeway < *t.nbf, Status::token_not_yet_valid);
        s != Status::ok)
        return s;
    if (Status s = check(Check::iat, t.iat, t.iat && *t.iat > now + leeway, Status::issued_in_future); s != Status::ok)
        return s;
    if (!options_.max_lifetime_s) {
        record_not_applicable(rec, Check::max_lifetime, "not configured");
        return Status::ok;
    }
    // A token without exp lives forever, which is over any limit.
    const bool too_long = !t.exp || (t.iat ? *t.exp - *t.iat : *t.exp - now) > *options_.max_lifetime_s;
    const Status s = too_long ? Status::lifetime_too_long : Status::ok;
    record(rec, Check::max_lifetime, s, [&] { return "at most " + human_seconds(*options_.max_lifetime_s); });
    return s;
}

Status ClaimsValidator::validate(const boost::json::object& payload, std::int64_t now, TimeClaims& t,
                                 CheckRecorder* rec) const {
    t = TimeClaims{};
    Status types = read_time(payload, "exp", t.exp);
    if (types == Status::ok) types = read_time(payload, "nbf", t.nbf);
    if (types == Status::ok) types = read_time(payload, "iat", t.iat);
    if (types != Status::ok) {
        record(rec, Check::claim_types, types, [] { return std::string("exp, nbf and iat must be numbers"); });
        return types;
    }

    if (options_.required.empty()) {
        record_not_applicable(rec, Check::required_claims, "none configured");
    } else {
        const bool all = std::all_of(options_.required.begin(), options_.required.end(),
                                     [&](const std::string& name) { return payload.contains(name); });
        const Status s = all ? Status::ok : Status::claim_missing;
        record(rec, Check::required_claims, s, [&] { return strings::join(options_.required); });
        if (s != Status::ok) return s;
    }
    if (Status s = check_time(t, now, rec); s != Status::ok) return s;

    if (options_.issuers.empty()) {
        record_not_applicable(rec, Check::iss, "not configured");
    } else {
        const auto* iss = payload.if_contains("iss");
        const Status s = !iss                                         ? Status::issuer_not_allowed
                         : !iss->is_string()                          ? Status::claim_invalid
                         : !contains(options_.issuers, iss->get_string()) ? Status::issuer_not_allowed
                                                                      : Status::ok;
        record(rec, Check::iss, s,
               [&] { return json_text(iss) + "; allowed: " + strings::join(options_.issuers); });
        if (s != Status::ok) return s;
    }
    if (options_.audiences.empty()) {
        record_not_applicable(rec, Check::aud, "not configured");
    } else {
        const auto* aud = payload.if_contains("aud");
        const Status s = check_audience(aud);
        record(rec, Check::aud, s,
               [&] { return json_text(aud) + "; allowed: " + strings::join(options_.audiences); });
        if (s != Status::ok) return s;
    }
    return Status::ok;
}

Status ClaimsValidator::check_audience(const boost::json::value* aud) const {
    if (!aud) return Status::audience_not_allowed;
    if (aud->is_string()) return contains(options_.audiences, aud->get_string()) ? Status::ok : Status::audience_not_allowed;
    if (!aud->is_array()) return Status::claim_invalid;
    bool any = false;
    for (const auto& item : aud->get_array()) {
        if (!item.is_string()) return Status::claim_invalid;
        any = any || contains(options_.audiences, item.get_string());
    }
    return any ? Status::ok : Status::audience_not_allowed;
}

}  // namespace authgate::jwt
