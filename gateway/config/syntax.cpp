#include "config/syntax.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <numeric>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/url_view.hpp>

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

namespace urls = boost::urls;

// Boost.URL refused the text: say which part is wrong, as far as the text shows it.
std::string why_not_a_url(std::string_view text) {
    const auto scheme_end = text.find("://");
    const std::string scheme = strings::lower(std::string(text.substr(0, scheme_end)));
    if (scheme_end == std::string_view::npos || (scheme != "http" && scheme != "https"))
        return "must start with http:// or https://";
    const std::string_view rest = text.substr(scheme_end + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return "missing ']' after IPv6 address";
        const std::string_view address = authority.substr(1, close - 1);
        if (!urls::parse_ipv6_address(address))
            return "invalid IPv6 address '" + std::string(address) + "'" +
                   (address.find('%') != std::string_view::npos ? " (zone ids are not supported here)" : "");
    }
    if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
        return "spaces and control characters must be percent-encoded";
    if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        return "non-ASCII characters must be percent-encoded";
    return "not a valid URL";
}

// An absolute http(s) URL with a host the gateway can connect to.
struct HttpTarget {
    urls::url_view url;  // views the text passed in
    bool tls = false;
    std::string host;  // without brackets
    std::uint16_t port = 0;
};

// Boost.URL checks the URI grammar (RFC 3986); what an http client needs on top of it
// (scheme, a host, a port that fits, no user info) is checked here, once for every URL the
// gateway connects to.
std::optional<HttpTarget> parse_http_target(std::string_view text, std::string& why) {
    auto parsed = urls::parse_uri(text);
    if (!parsed) {
        why = why_not_a_url(text);
        return std::nullopt;
    }
    HttpTarget out;
    out.url = *parsed;
    const urls::url_view& u = out.url;
    if ((u.scheme_id() != urls::scheme::http && u.scheme_id() != urls::scheme::https) || !u.has_authority()) {
        why = "must start with http:// or https://";
        return std::nullopt;
    }
    out.tls = u.scheme_id() == urls::scheme::https;
    if (u.has_userinfo()) {
        why = "must not contain user info";
        return std::nullopt;
    }
    // Boost.URL 1.81 reads "host:abc/x" as an empty port and a relative path "abc/x",
    // which an authority cannot be followed by (RFC 3986 path-abempty): a bad port.
    const std::string_view path = u.encoded_path();
    if (!path.empty() && path.front() != '/') {
        why = "invalid port '" + std::string(u.port()) + std::string(path.substr(0, path.find('/'))) +
              "' (expected 1-65535)";
        return std::nullopt;
    }
    switch (u.host_type()) {
        case urls::host_type::ipv4:
        case urls::host_type::ipv6: out.host = u.host_address(); break;
        case urls::host_type::name:
            if (u.encoded_host().empty()) {
                why = "missing host";
                return std::nullopt;
            }
            // RFC 3986 names may hold percent-escapes and sub-delimiters, which resolvers
            // read differently: only DNS-style names.
            if (!is_host_name(u.encoded_host())) {
                why = "a host may contain only letters, digits, '-', '.' and '_'";
                return std::nullopt;
            }
            out.host = std::string(u.encoded_host());
            break;
        default:
            why = "unsupported host '" + std::string(u.encoded_host()) + "'";
            return std::nullopt;
    }
    out.port = out.tls ? 443 : 80;
    if (u.has_port()) {
        // Not port_number(): it wraps 99999 to 34463.
        auto port = parse_port(u.port());
        if (!port || *port == 0) {
            why = "invalid port '" + std::string(u.port()) + "' (expected 1-65535)";
            return std::nullopt;
        }
        out.port = *port;
    }
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
    // The very test the server makes before it binds (server/server.cpp): a name is not
    // resolved, as in Envoy, so a listener never depends on DNS or /etc/hosts at start.
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(hp->host, ec);
    if (ec) {
        why = hp->host == "localhost" ? "'localhost' is a name, not an address: write 127.0.0.1 (or [::1])"
                                      : "'" + hp->host +
                                            "' is not an IP address: listen on an address such as 0.0.0.0 (every "
                                            "IPv4 interface), [::] (every interface) or 127.0.0.1 (loopback only)";
        return std::nullopt;
    }
    return ListenAddress{hp->host, *port};
}

bool listen_overlaps(const ListenAddress& a, const ListenAddress& b) {
    if (a.port == 0 || a.port != b.port) return false;
    boost::system::error_code ec_a, ec_b;
    const auto x = boost::asio::ip::make_address(a.host, ec_a);
    const auto y = boost::asio::ip::make_address(b.host, ec_b);
    if (ec_a || ec_b) return false;
    if (x == y) return true;
    // [::] is dual-stack (the server leaves IPV6_V6ONLY off): it takes every address.
    auto covers = [](const boost::asio::ip::address& wild, const boost::asio::ip::address& other) {
        return wild.is_unspecified() && (wild.is_v6() || other.is_v4() || other.is_unspecified());
    };
    return covers(x, y) || covers(y, x);
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& why) {
    auto target = parse_http_target(text, why);
    if (!target) return std::nullopt;
    const urls::url_view& u = target->url;
    if ((!u.encoded_path().empty() && u.encoded_path() != "/") || u.has_query() || u.has_fragment()) {
        why = "endpoint must not have a path, query or fragment (use rewrite.strip_prefix on routes)";
        return std::nullopt;
    }
    return Endpoint{target->tls ? "https" : "http", std::move(target->host), target->port};
}

std::optional<HttpUrl> parse_http_url(std::string_view text, std::string& why) {
    auto target = parse_http_target(text, why);
    if (!target) return std::nullopt;
    const urls::url_view& u = target->url;
    HttpUrl out;
    out.tls = target->tls;
    out.host = std::move(target->host);
    out.port = std::to_string(target->port);
    out.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
    return out;
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
