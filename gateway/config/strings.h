// Small string helpers every layer uses (config, cors, jwt, proxy, server): one copy each.
// Header-only; in gateway/config because that is the library every other one builds on.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace authgate::strings {

// "a, b, c" (or with another separator).
inline std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out.append(sep);
        out.append(item);
    }
    return out;
}

// HTTP's optional whitespace: space or tab.
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Without the spaces and tabs at either end.
constexpr std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// Calls f(item) for each non-empty, OWS-trimmed item of a comma-separated header value
// ("a, b,,c" -> a, b, c). One pass: cost linear in the value's length.
template <class F>
void for_each_list_item(std::string_view list, F&& f) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto item = trim_ows(list.substr(0, comma));
        if (!item.empty()) f(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

// ASCII lower and upper case of one character; no locale (HTTP names are ASCII).
constexpr char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

// ASCII lower case.
inline std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), to_lower);
    return s;
}

// RFC 9110 tchar: what a method or a header name is made of.
constexpr bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '.': case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

// RFC 9110 token (methods, header names): non-empty, only tchar.
constexpr bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

}  // namespace authgate::strings
