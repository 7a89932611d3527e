// Syntax of a web origin as it appears in allow_origins and in the Origin request header:
// scheme "://" host [":" port], nothing else (RFC 6454 serialisation), or the opaque
// origin "null". Used twice: strictly on the configured list at compile time (with a
// reason for the error message) and, allocation-free, on every request Origin, so that a
// value no browser would send (a path, CR/LF, userinfo) is never allowed or reflected.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace authgate::cors {

// Longer origins are refused: a DNS name is at most 253 bytes, so no real origin comes
// near this. It also bounds the per-request stack buffer and what the cache may hold.
inline constexpr std::size_t kMaxOriginLength = 512;

enum class OriginError {
    none,
    empty,           // ""
    too_long,        // over kMaxOriginLength
    missing_scheme,  // no "scheme://"
    bad_scheme,      // scheme not ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    userinfo,        // "user@host"
    wildcard,        // "*" anywhere in the authority
    empty_host,      // "https://" or "https://:8080"
    bad_host,        // characters outside a DNS name / IP literal
    bad_port,        // ":" without digits, non-digits, 0 or over 65535
    path,            // anything after the authority: "/", "/x", "?q", "#f"
};

// Stable text for error messages.
std::string_view to_string(OriginError e);

// Views into the parsed text.
struct OriginParts {
    std::string_view scheme;
    std::string_view host;  // IPv6 literals keep their brackets
    std::string_view port;  // digits only; empty when absent
};

// Parses without allocating. Does not accept "null": callers handle it first because it
// is a literal, not a tuple origin.
OriginError parse_origin(std::string_view text, OriginParts* parts = nullptr);

// The form browsers serialise: scheme and host lower case, port without leading zeros,
// the scheme's default port (http 80, https 443) dropped. Only for configured origins,
// which must parse first.
std::string normalise_origin(const OriginParts& parts);

// ASCII lower-casing into a caller buffer of at least text.size() bytes. A valid origin
// only has letters in its scheme and host, so this lower-cases exactly those.
std::string_view ascii_lower(std::string_view text, char* buffer);

}  // namespace authgate::cors
