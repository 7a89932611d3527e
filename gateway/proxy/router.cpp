#include "proxy/router.h"

#include <algorithm>
#include <cctype>

namespace authgate::proxy {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// RFC 3986 5.2.4 on an absolute path, done segment by segment: "." segments vanish,
// ".." pops the previous segment (never above the root).
std::string remove_dot_segments(std::string_view in) {
    std::vector<std::string_view> segments;
    segments.reserve(8);
    std::size_t pos = 1;  // skip the leading '/'
    bool trailing_slash = false;
    while (pos <= in.size()) {
        std::size_t end = in.find('/', pos);
        if (end == std::string_view::npos) end = in.size();
        std::string_view seg = in.substr(pos, end - pos);
        bool last = end == in.size();
        if (seg == ".") {
            trailing_slash = last;
        } else if (seg == "..") {
            if (!segments.empty()) segments.pop_back();
            trailing_slash = last;
        } else {
            segments.push_back(seg);
            trailing_slash = false;
        }
        pos = end + 1;
    }
    std::string out;
    out.reserve(in.size());
    for (auto seg : segments) {
        out += '/';
        out += seg;
    }
    if (trailing_slash || out.empty()) out += '/';
    return out;
}

// A "." or ".." segment followed by ";" parameters ("/public/..;/admin"): the gateway sees
// a name, while Tomcat-style servers drop the parameters and resolve "..". `decoded` has
// its unreserved escapes decoded and the rest upper-cased, so "%2e" is "." and ";" may
// still be "%3B".
bool dot_segment_with_parameters(std::string_view decoded) {
    for (std::size_t pos = decoded.find("/."); pos != std::string_view::npos; pos = decoded.find("/.", pos + 1)) {
        std::string_view seg = decoded.substr(pos + 2);
        if (seg.starts_with('.')) seg.remove_prefix(1);
        if (seg.starts_with(';') || seg.starts_with("%3B")) return true;
    }
    return false;
}

bool host_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
}

}  // namespace

void append_percent_encoding_non_ascii(std::string& out, std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    for (unsigned char c : text) {
        if (c < 0x80) {
            out += static_cast<char>(c);
            continue;
        }
        out += '%';
        out += digits[c >> 4];
        out += digits[c & 15];
    }
}

bool valid_host(std::string_view host) {
    std::string_view name = host, port;
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (unsigned char c : host.substr(1, close - 1))
            if (!(std::isxdigit(c) || c == ':' || c == '.')) return false;
        name = {};
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':') return false;
            port = host.substr(close + 2);
            if (port.empty()) return false;
        }
    } else {
        if (const auto colon = host.find(':'); colon != std::string_view::npos) {
            name = host.substr(0, colon);
            port = host.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (name.empty() || name.size() > 253) return false;
        for (unsigned char c : name)
            if (!host_char(c)) return false;
    }
    if (!port.empty()) {
        if (port.size() > 5) return false;
        unsigned value = 0;
        for (unsigned char c : port) {
            if (c < '0' || c > '9') return false;
            value = value * 10 + (c - '0');
        }
        if (value == 0 || value > 65535) return false;
    }
    return true;
}

std::optional<std::string> normalize_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return std::nullopt;
    std::string decoded;
    decoded.reserve(path.size());
    bool has_dot_segment_risk = false;
    for (std::size_t i = 0; i < path.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(path[i]);
        // No spaces, controls or backslashes, raw or encoded: backends disagree on what
        // they mean (a backslash is a separator to some, NUL ends a string to others).
        if (c < 0x21 || c == 0x7f || c == '\\') return std::nullopt;
        if (c == '%') {
            if (i + 2 >= path.size()) return std::nullopt;
            int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            auto v = static_cast<unsigned char>(hi * 16 + lo);
            if (v < 0x20 || v == 0x7f || v == '\\') return std::nullopt;
            if (is_unreserved(v)) {
                decoded += static_cast<char>(v);
            } else {
                static constexpr char digits[] = "0123456789ABCDEF";
                decoded += '%';
                decoded += digits[v >> 4];
                decoded += digits[v & 15];
            }
            i += 2;
            continue;
        }
        if (c >= 0x80) {
            // Not allowed raw in a URI: forwarded percent-encoded, so every backend reads the
            // same bytes (some decode overlong UTF-8 such as C0 AE as '.').
            append_percent_encoding_non_ascii(decoded, path.substr(i, 1));
            continue;
        }
        decoded += static_cast<char>(c);
    }
    // Fast path: no "/." anywhere means no dot segment to remove.
    has_dot_segment_risk = decoded.find("/.") != std::string::npos;
    if (!has_dot_segment_risk) return decoded;
    if (dot_segment_with_parameters(decoded)) return std::nullopt;
    return remove_dot_segments(decoded);
}

std::string normalize_host(std::string_view host) {
    std::string out;
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        host = host.substr(0, close == std::string_view::npos ? host.size() : close + 1);
    } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
        host = host.substr(0, colon);
    }
    out.resize(host.size());
    std::transform(host.begin(), host.end(), out.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
    if (!out.empty() && out.back() == '.') out.pop_back();  // "example.com." is example.com
    return out;
}

Router::Router(const std::vector<config::Route>& routes) {
    entries_.reserve(routes.size());
    for (const auto& r : routes) {
        entries_.push_back(Entry{r.match.path, r.match.path_prefix, r.match.methods, r.match.host});
    }
}

std::optional<std::size_t> Router::match(std::string_view method, std::string_view host,
                                         std::string_view path) const {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        if (!e.path.empty() && path != e.path) continue;
        if (!e.path_prefix.empty() && !path.starts_with(e.path_prefix)) continue;
        if (!e.methods.empty() && std::find(e.methods.begin(), e.methods.end(), method) == e.methods.end()) continue;
        if (!e.host.empty() && host != e.host) continue;
        return i;
    }
    return std::nullopt;
}

std::optional<std::size_t> Router::match_path(std::string_view path) const {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        if (!e.path.empty() && path != e.path) continue;
        if (!e.path_prefix.empty() && !path.starts_with(e.path_prefix)) continue;
        return i;
    }
    return std::nullopt;
}

std::string strip_prefix(std::string_view path, std::string_view prefix) {
    if (prefix.empty() || !path.starts_with(prefix)) return std::string(path);
    std::string_view rest = path.substr(prefix.size());
    if (prefix.back() != '/' && !rest.empty() && rest.front() != '/') return std::string(path);  // "/apix" vs "/api"
    if (rest.empty() || rest.front() != '/') return "/" + std::string(rest);
    return std::string(rest);
}

}  // namespace authgate::proxy
