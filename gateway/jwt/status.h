// Every reason a token can be refused: one value each, with two stable strings. The text
// (to_string) is the error_description and the access log's `auth` field; the label (the
// identifier itself, snake_case) is the metric's `reason` label, so dashboards and alerts
// never carry spaces. Renaming either is a breaking change for operators.
#pragma once

#include <string_view>

namespace authgate::jwt {

#define AUTHGATE_JWT_STATUS(X)                                                         \
    X(ok, "ok")                                                                         \
    X(token_missing, "token missing")                                                   \
    X(token_malformed, "token malformed")         /* not three segments, bad base64url */ \
    X(header_invalid, "header invalid")           /* header not a JSON object */       \
    X(payload_invalid, "payload invalid")         /* payload not a JSON object */      \
    X(crit_unsupported, "crit header unsupported")                                      \
    X(algorithm_not_allowed, "algorithm not allowed")                                   \
    X(unknown_kid, "unknown kid")                                                       \
    X(key_mismatch, "key does not match algorithm")                                     \
    X(signature_invalid, "signature invalid")                                           \
    X(token_type_not_allowed, "token type not allowed") /* JOSE typ not in `types` */   \
    X(token_expired, "token expired")                                                   \
    X(token_not_yet_valid, "token not yet valid") /* nbf in the future */              \
    X(issued_in_future, "token issued in the future")                                   \
    X(issuer_not_allowed, "issuer not allowed")                                         \
    X(audience_not_allowed, "audience not allowed")                                     \
    X(claim_missing, "required claim missing")                                          \
    X(claim_invalid, "claim invalid")             /* exp/nbf/iat not a number, etc. */ \
    X(lifetime_too_long, "token lifetime too long")                                     \
    X(claim_value_invalid, "claim value invalid") /* control chars in forwarded claim */ \
    X(token_too_large, "token too large")                                               \
    X(insufficient_scope, "insufficient scope")   /* route claim rules */              \
    X(keys_unavailable, "keys unavailable")       /* provider never obtained keys */   \
    X(no_key, "no key for algorithm")

enum class Status {
#define AUTHGATE_X(name, text) name,
    AUTHGATE_JWT_STATUS(AUTHGATE_X)
#undef AUTHGATE_X
};

constexpr std::string_view to_string(Status s) {
    switch (s) {
#define AUTHGATE_X(name, text) \
    case Status::name:         \
        return text;
        AUTHGATE_JWT_STATUS(AUTHGATE_X)
#undef AUTHGATE_X
    }
    return "unknown";
}

constexpr std::string_view label(Status s) {
    switch (s) {
#define AUTHGATE_X(name, text) \
    case Status::name:         \
        return #name;
        AUTHGATE_JWT_STATUS(AUTHGATE_X)
#undef AUTHGATE_X
    }
    return "unknown";
}

}  // namespace authgate::jwt
