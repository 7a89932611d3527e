#include "jwt/claims.h"

#include <algorithm>
#include <cmath>

#include <boost/json/value.hpp>

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

Status ClaimsValidator::check_time(const TimeClaims& t, std::int64_t now) const {
    const std::int64_t leeway = options_.leeway_s;
    // RFC 7519 4.1.4: the token is valid strictly before exp.
    if (t.exp && now - leeway >= *t.exp) return Status::token_expired;
    if (t.nbf && now + leeway < *t.nbf) return Status::token_not_yet_valid;
    if (t.iat && *t.iat > now + leeway) return Status::issued_in_future;
    if (options_.max_lifetime_s) {
        // A token without exp lives forever, which is over any limit.
        if (!t.exp) return Status::lifetime_too_long;
        const std::int64_t lifetime = t.iat ? *t.exp - *t.iat : *t.exp - now;
        if (lifetime > *options_.max_lifetime_s) return Status::lifetime_too_long;
    }
    return Status::ok;
}

Status ClaimsValidator::validate(const boost::json::object& payload, std::int64_t now, TimeClaims& t) const {
    t = TimeClaims{};
    if (Status s = read_time(payload, "exp", t.exp); s != Status::ok) return s;
    if (Status s = read_time(payload, "nbf", t.nbf); s != Status::ok) return s;
    if (Status s = read_time(payload, "iat", t.iat); s != Status::ok) return s;

    for (const auto& name : options_.required) {
        if (!payload.contains(name)) return Status::claim_missing;
    }
    if (Status s = check_time(t, now); s != Status::ok) return s;

    if (!options_.issuers.empty()) {
        const auto* iss = payload.if_contains("iss");
        if (!iss) return Status::issuer_not_allowed;
        if (!iss->is_string()) return Status::claim_invalid;
        if (!contains(options_.issuers, iss->get_string())) return Status::issuer_not_allowed;
    }
    if (!options_.audiences.empty()) {
        const auto* aud = payload.if_contains("aud");
        if (!aud) return Status::audience_not_allowed;
        if (aud->is_string()) {
            if (!contains(options_.audiences, aud->get_string())) return Status::audience_not_allowed;
        } else if (aud->is_array()) {
            bool any = false;
            for (const auto& item : aud->get_array()) {
                if (!item.is_string()) return Status::claim_invalid;
                any = any || contains(options_.audiences, item.get_string());
            }
            if (!any) return Status::audience_not_allowed;
        } else {
            return Status::claim_invalid;
        }
    }
    return Status::ok;
}

}  // namespace authgate::jwt
