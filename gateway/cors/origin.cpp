#include "cors/origin.h"

namespace authgate::cors {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_scheme_char(char c) { return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.'; }

// Browsers send IDNs as punycode, so an ASCII DNS name (plus '_', which some internal
// names use) covers every host a browser serialises.
bool is_host_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; }

bool valid_ip_literal(std::string_view inside) {
    if (inside.empty()) return false;
    for (char c : inside) {
        if (!is_hex(c) && c != ':' && c != '.') return false;
    }
    return true;
}

}  // namespace

std::string_view to_string(OriginError e) {
    switch (e) {
        case OriginError::none: return "ok";
        case OriginError::empty: return "empty origin";
        case OriginError::too_long: return "origin too long";
        case OriginError::missing_scheme: return "missing scheme";
        case OriginError::bad_scheme: return "invalid scheme";
        case OriginError::userinfo: return "user info is not part of an origin";
        case OriginError::wildcard: return "wildcards are not supported in allow_origins";
        case OriginError::empty_host: return "missing host";
        case OriginError::bad_host: return "invalid host";
        case OriginError::bad_port: return "invalid port";
        case OriginError::path: return "an origin has no path, query, fragment or trailing slash";
    }
    return "invalid origin";
}

OriginError parse_origin(std::string_view text, OriginParts* parts) {
    if (text.empty()) return OriginError::empty;
    if (text.size() > kMaxOriginLength) return OriginError::too_long;

    const auto sep = text.find("://");
    if (sep == std::string_view::npos || sep == 0) return OriginError::missing_scheme;
    const auto scheme = text.substr(0, sep);
    if (!is_alpha(scheme[0])) return OriginError::bad_scheme;
    for (char c : scheme) {
        if (!is_scheme_char(c)) return OriginError::bad_scheme;
    }

    auto authority = text.substr(sep + 3);
    if (const auto end = authority.find_first_of("/?#"); end != std::string_view::npos) {
        // "https://*.example.com/" has two mistakes; the wildcard needs the bigger fix
        // (a regex), so it is the one reported.
        if (authority.substr(0, end).find('*') != std::string_view::npos) return OriginError::wildcard;
        return OriginError::path;
    }
    if (authority.find('@') != std::string_view::npos) return OriginError::userinfo;
    if (authority.find('*') != std::string_view::npos) return OriginError::wildcard;

    std::string_view host;
    std::string_view rest;  // ":port" or empty
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos || !valid_ip_literal(authority.substr(1, close - 1))) {
            return OriginError::bad_host;
        }
        host = authority.substr(0, close + 1);
        rest = authority.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return OriginError::bad_host;
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
        if (host.empty()) return OriginError::empty_host;
        for (char c : host) {
            if (!is_host_char(c)) return OriginError::bad_host;
        }
    }

    std::string_view port;
    if (!rest.empty()) {
        port = rest.substr(1);
        if (port.empty() || port.size() > 5) return OriginError::bad_port;
        unsigned value = 0;
        for (char c : port) {
            if (!is_digit(c)) return OriginError::bad_port;
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) return OriginError::bad_port;
    }

    if (parts) *parts = OriginParts{scheme, host, port};
    return OriginError::none;
}

std::string normalise_origin(const OriginParts& parts) {
    std::string out;
    out.reserve(parts.scheme.size() + 3 + parts.host.size() + 1 + parts.port.size());
    for (char c : parts.scheme) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    out += "://";
    for (char c : parts.host) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);

    auto port = parts.port;
    while (port.size() > 1 && port.front() == '0') port.remove_prefix(1);
    const std::string_view scheme = std::string_view(out).substr(0, parts.scheme.size());
    const bool default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
    if (!port.empty() && !default_port) {
        out += ':';
        out += port;
    }
    return out;
}

std::string_view ascii_lower(std::string_view text, char* buffer) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        buffer[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return {buffer, text.size()};
}

}  // namespace authgate::cors
