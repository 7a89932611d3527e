#include "jwt/extractor.h"

#include "config/strings.h"

namespace authgate::jwt {
namespace {

using strings::iequals;
constexpr auto is_space = strings::is_ows;
constexpr auto trim = strings::trim_ows;

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Calls f(name_raw, value_raw) for each '&'-separated pair until f returns true.
template <typename F>
void for_each_param(std::string_view query, F&& f) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const std::size_t eq = pair.find('=');
        const std::string_view name = pair.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (!pair.empty() && f(name, value, pair)) return;
        if (amp == std::string_view::npos) return;
        query.remove_prefix(amp + 1);
    }
}

// Whether the raw (encoded) parameter name decodes to `name`, without allocating for
// the common unencoded case.
bool param_name_is(std::string_view raw, std::string_view name) {
    if (raw.find_first_of("%+") == std::string_view::npos) return raw == name;
    std::string decoded;
    return percent_decode(raw, decoded) && decoded == name;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;  // truncated escape
            const int hi = hex(in[i + 1]);
            const int lo = hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+') {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

std::optional<std::string_view> strip_auth_prefix(std::string_view value, std::string_view prefix) {
    value = trim(value);
    const std::string_view scheme = trim(prefix);
    const bool needs_space = !prefix.empty() && is_space(prefix.back());
    if (scheme.empty()) return value;
    if (value.size() < scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)) return std::nullopt;
    std::string_view rest = value.substr(scheme.size());
    if (needs_space) {
        // "Bearer" alone counts as the scheme with an empty token; "Bearerxyz" is another scheme.
        if (!rest.empty() && !is_space(rest.front())) return std::nullopt;
        rest = trim(rest);
    }
    return rest;
}

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const std::size_t semi = header.find(';');
        const std::string_view pair = trim(header.substr(0, semi));
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) {
            std::string_view v = trim(pair.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
        if (semi == std::string_view::npos) break;
        header.remove_prefix(semi + 1);
    }
    return std::nullopt;
}

std::optional<std::string> find_query_param(std::string_view query, std::string_view name) {
    std::optional<std::string> found;
    for_each_param(query, [&](std::string_view raw_name, std::string_view raw_value, std::string_view) {
        if (!param_name_is(raw_name, name)) return false;
        std::string decoded;
        if (!percent_decode(raw_value, decoded)) decoded.clear();  // undecodable = present but empty
        found = std::move(decoded);
        return true;
    });
    return found;
}

std::string remove_cookie(std::string_view header, std::string_view name) {
    std::string out;
    while (!header.empty()) {
        const std::size_t semi = header.find(';');
        const std::string_view pair = trim(header.substr(0, semi));
        const std::size_t eq = pair.find('=');
        const bool drop = eq != std::string_view::npos ? trim(pair.substr(0, eq)) == name : pair == name;
        if (!pair.empty() && !drop) {
            if (!out.empty()) out += "; ";
            out.append(pair.data(), pair.size());
        }
        if (semi == std::string_view::npos) break;
        header.remove_prefix(semi + 1);
    }
    return out;
}

std::string remove_query_param(std::string_view query, std::string_view name) {
    std::string out;
    for_each_param(query, [&](std::string_view raw_name, std::string_view, std::string_view pair) {
        if (!param_name_is(raw_name, name)) {
            if (!out.empty()) out += '&';
            out.append(pair.data(), pair.size());
        }
        return false;
    });
    return out;
}

bool same_source(const config::TokenSource& a, const config::TokenSource& b) {
    if (a.kind != b.kind) return false;
    if (a.kind == config::TokenSource::Kind::header)
        return iequals(a.name, b.name) && a.prefix == b.prefix;  // header names are case-insensitive
    return a.name == b.name;
}

TokenExtractor::TokenExtractor(std::vector<config::TokenSource> sources) : sources_(std::move(sources)) {
    if (sources_.empty()) {
        sources_.push_back(config::TokenSource{config::TokenSource::Kind::header, "Authorization", "Bearer "});
    }
}

std::optional<ExtractedToken> TokenExtractor::extract(const RequestView& request, std::string& scratch) const {
    for (std::size_t i = 0; i < sources_.size(); ++i) {
        const auto& src = sources_[i];
        switch (src.kind) {
            case config::TokenSource::Kind::header: {
                const auto value = request.header(src.name);
                if (!value) break;
                const auto token = strip_auth_prefix(*value, src.prefix);
                if (token) return ExtractedToken{*token, i};
                break;
            }
            case config::TokenSource::Kind::cookie: {
                const auto header = request.header("Cookie");
                if (!header) break;
                const auto token = find_cookie(*header, src.name);
                if (token) return ExtractedToken{*token, i};
                break;
            }
            case config::TokenSource::Kind::query: {
                auto token = find_query_param(request.query(), src.name);
                if (token) {
                    scratch = std::move(*token);
                    return ExtractedToken{scratch, i};
                }
                break;
            }
        }
    }
    return std::nullopt;
}

}  // namespace authgate::jwt
