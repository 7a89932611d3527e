#include "config/syntax.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <numeric>

#include "config/strings.h"

namespace authgate::config::syntax {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Host names and IPv4 literals: letters, digits, '-', '.', '_' (underscore appears in
// internal DNS names such as docker-compose service names).
bool is_host_name(std::string_view host) {
    return !host.empty() &&
           std::all_of(host.begin(), host.end(), [](char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_'; });
}

// Inside brackets: hex digits, ':', '.', and a "%zone" suffix.
bool is_ipv6_literal(std::string_view host) {
    if (host.empty() || host.find(':') == std::string_view::npos) return false;
    auto zone = host.find('%');
    std::string_view addr = host.substr(0, zone);
    bool addr_ok = std::all_of(addr.begin(), addr.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
    });
    if (!addr_ok) return false;
    if (zone == std::string_view::npos) return true;
    std::string_view id = host.substr(zone + 1);
    return is_host_name(id);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

struct HostPort {
    std::string host;       // without brackets
    bool bracketed = false;
    std::optional<std::string_view> port;  // text after ':', if any
};

// Splits "host", "host:port", "[v6]" or "[v6]:port"; validates the host part.
std::optional<HostPort> split_host_port(std::string_view text, std::string& why) {
    HostPort out;
    std::string_view rest;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            why = "missing ']' after IPv6 address";
            return std::nullopt;
        }
        out.host = std::string(text.substr(1, close - 1));
        out.bracketed = true;
        if (!is_ipv6_literal(out.host)) {
            why = "invalid IPv6 address '" + out.host + "'";
            return std::nullopt;
        }
        rest = text.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') {
            why = "unexpected text after ']'";
            return std::nullopt;
        }
    } else {
        auto colon = text.find(':');
        if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
            why = "IPv6 addresses must be in brackets, e.g. [::1]:8080";
            return std::nullopt;
        }
        out.host = std::string(text.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
        if (out.host.empty()) {
            why = "missing host";
            return std::nullopt;
        }
        if (!is_host_name(out.host)) {
            why = "a host may contain only letters, digits, '-', '.' and '_'";
            return std::nullopt;
        }
    }
    if (!rest.empty()) out.port = rest.substr(1);
    return out;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates, std::size_t max_distance) {
    std::string best;
    std::size_t best_distance = max_distance + 1;
    for (const auto& candidate : candidates) {
        std::size_t d = edit_distance(word, candidate);
        // A two-letter word is two edits from every other two-letter word: only suggest
        // when the edit count is smaller than the word itself.
        if (d < best_distance && d < std::max(word.size(), std::size_t{1})) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::optional<ListenAddress> parse_listen(std::string_view text, std::string& why) {
    auto hp = split_host_port(text, why);
    if (!hp) return std::nullopt;
    if (!hp->port) {
        why = "missing port (expected host:port, e.g. 0.0.0.0:8080)";
        return std::nullopt;
    }
    auto port = parse_port(*hp->port);
    if (!port) {
        why = "invalid port '" + std::string(*hp->port) + "' (expected 0-65535)";
        return std::nullopt;
    }
    return ListenAddress{hp->host, *port};
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why) {
    Endpoint ep;
    auto scheme_end = text.find("://");
    const std::string scheme =
        strings::lower(std::string(text.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end)));
    if (scheme != "http" && scheme != "https") {
        why = "endpoint must start with http:// or https://";
        return std::nullopt;
    }
    ep.scheme = scheme;
    std::string_view authority = text.substr(scheme_end + 3);
    if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
    if (authority.find_first_of("/?#") != std::string_view::npos) {
        why = "endpoint must not have a path, query or fragment (use rewrite.strip_prefix on routes)";
        return std::nullopt;
    }
    if (authority.find('@') != std::string_view::npos) {
        why = "endpoint must not contain user info";
        return std::nullopt;
    }
    auto hp = split_host_port(authority, why);
    if (!hp) return std::nullopt;
    ep.host = hp->host;
    ep.port = scheme == "https" ? 443 : 80;
    if (hp->port) {
        auto port = parse_port(*hp->port);
        if (!port || *port == 0) {
            why = "invalid port '" + std::string(*hp->port) + "' (expected 1-65535)";
            return std::nullopt;
        }
        ep.port = *port;
    }
    return ep;
}

std::optional<std::string> normalize_route_host(std::string_view text, std::string& why) {
    auto hp = split_host_port(text, why);
    if (!hp) return std::nullopt;
    if (hp->port && !parse_port(*hp->port)) {
        why = "invalid port '" + std::string(*hp->port) + "'";
        return std::nullopt;
    }
    return strings::lower(hp->bracketed ? "[" + hp->host + "]" : hp->host);
}

}  // namespace authgate::config::syntax
