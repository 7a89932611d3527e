// Every way an exchange with an upstream can fail, as one list (like jwt::Status): the
// value, its stable string and the status the client is answered with. The string is at
// once the `error_description` of the 502/504, the access log's `upstream_error` field and
// the `kind` label of authgate_upstream_errors_total, so the three never disagree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// X(value, string, status): status 0 = nothing can be answered (the response had begun).
#define AUTHGATE_UPSTREAM_ERRORS(X)                                                                              \
    X(connect_refused, "connect_refused", 502)   /* refused or unreachable (every endpoint tried) */            \
    X(connect_timeout, "connect_timeout", 502)   /* upstream_connect ran out */                                 \
    X(tls, "tls", 502)                           /* the TLS handshake with the upstream failed */               \
    X(resolve, "resolve", 502)                   /* the endpoint's name did not resolve */                      \
    X(reset, "reset", 502)                       /* closed or reset before a whole response header */           \
    X(bad_response, "bad_response", 502)         /* a head the gateway refuses: malformed, Connection naming a  \
                                                    framing field, a 101 nobody asked for, endless 1xx */       \
    X(response_timeout, "response_timeout", 504) /* no response header within upstream_response */              \
    X(mid_response, "mid_response", 0)           /* failed while the body was relayed: the client is closed */

namespace authgate::proxy {

enum class UpstreamError : std::uint8_t {
#define AUTHGATE_X(name, text, status) name,
    AUTHGATE_UPSTREAM_ERRORS(AUTHGATE_X)
#undef AUTHGATE_X
};

#define AUTHGATE_X(name, text, status) +1
inline constexpr std::size_t kUpstreamErrors = 0 AUTHGATE_UPSTREAM_ERRORS(AUTHGATE_X);
#undef AUTHGATE_X

constexpr std::string_view to_string(UpstreamError e) {
    switch (e) {
#define AUTHGATE_X(name, text, status) \
    case UpstreamError::name:          \
        return text;
        AUTHGATE_UPSTREAM_ERRORS(AUTHGATE_X)
#undef AUTHGATE_X
    }
    return "unknown";
}

// The status the client gets: 502 or 504; 0 when the response had already begun.
constexpr unsigned status_of(UpstreamError e) {
    switch (e) {
#define AUTHGATE_X(name, text, status) \
    case UpstreamError::name:          \
        return status;
        AUTHGATE_UPSTREAM_ERRORS(AUTHGATE_X)
#undef AUTHGATE_X
    }
    return 502;
}

}  // namespace authgate::proxy
