// libFuzzer: the small parsers on the request path, with the properties their headers
// promise. Byte 0 selects the function (modulo 4), the rest is its input:
//   0 proxy::normalize_path   idempotent; starts with '/'; no "." / ".." segment (raw or
//                             %2e in any case), none followed by ';' parameters; no raw or
//                             encoded control character or backslash
//   1 cors::parse_origin      views into the input; scheme/host/port syntax as documented;
//                             normalise_origin's output parses and normalises to itself
//   2 jwt token extraction    an extracted token is a substring of the request (or, from
//                             the query, the percent-decoding of one of its parameters)
//   3 server::split_target    path and query are substrings of the target; origin-form:
//                             path + "?" + query is the target, path starts with '/'
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "cors/origin.h"
#include "jwt/extractor.h"
#include "proxy/router.h"
#include "server/prepare.h"
#include "server/responses.h"

using namespace authgate;

namespace {

[[noreturn]] void violation(std::string_view what, std::string_view input, std::string_view output = {}) {
    std::fprintf(stderr, "\n=== fuzz_parsers: %.*s\n--- input (%zu bytes): ", static_cast<int>(what.size()), what.data(),
                 input.size());
    for (unsigned char c : input) std::fprintf(stderr, c >= 0x20 && c < 0x7f && c != '\\' ? "%c" : "\\x%02x", c);
    std::fprintf(stderr, "\n--- output: ");
    for (unsigned char c : output) std::fprintf(stderr, c >= 0x20 && c < 0x7f && c != '\\' ? "%c" : "\\x%02x", c);
    std::fprintf(stderr, "\n");
    std::abort();
}

bool within(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
}

bool is_dot_segment(std::string_view seg) {
    const auto l = lower(seg);
    return l == "." || l == ".." || l == "%2e" || l == "%2e%2e" || l == ".%2e" || l == "%2e.";
}

void check_normalize_path(std::string_view in) {
    const auto out = proxy::normalize_path(in);
    if (!out) return;
    const std::string_view p = *out;
    if (p.empty() || p.front() != '/') violation("normalize_path: output does not start with '/'", in, p);
    const auto again = proxy::normalize_path(p);
    if (!again) violation("normalize_path: its own output is refused", in, p);
    if (*again != p) violation("normalize_path: not idempotent", in, *again);
    for (unsigned char c : p)
        if (c < 0x21 || c == 0x7f || c == '\\') violation("normalize_path: control character or backslash", in, p);
    const auto l = lower(p);
    if (l.find("%5c") != std::string::npos) violation("normalize_path: encoded backslash", in, p);
    for (std::size_t i = l.find('%'); i != std::string::npos; i = l.find('%', i + 1)) {
        if (i + 2 >= l.size()) violation("normalize_path: truncated escape", in, p);
        const auto esc = l.substr(i + 1, 2);
        if (esc[0] < '2' || esc == "7f") violation("normalize_path: encoded control character", in, p);
    }
    std::size_t pos = 1;
    while (pos <= p.size()) {
        auto end = p.find('/', pos);
        if (end == std::string_view::npos) end = p.size();
        const auto seg = p.substr(pos, end - pos);
        if (is_dot_segment(seg)) violation("normalize_path: dot segment left", in, p);
        auto params = lower(seg).find(';');
        if (params == std::string::npos) params = lower(seg).find("%3b");
        if (params != std::string::npos && is_dot_segment(seg.substr(0, params)))
            violation("normalize_path: dot segment with ';' parameters", in, p);
        pos = end + 1;
    }
}

void check_origin(std::string_view in) {
    cors::OriginParts parts;
    const auto err = cors::parse_origin(in, &parts);
    (void)cors::to_string(err);
    if (in.size() <= cors::kMaxOriginLength) {
        char buf[cors::kMaxOriginLength];
        const auto low = cors::ascii_lower(in, buf);
        if (low.size() != in.size()) violation("ascii_lower: size changed", in, low);
    }
    if (err != cors::OriginError::none) return;
    if (in.size() > cors::kMaxOriginLength) violation("parse_origin: accepts an over-long origin", in);
    if (!within(parts.scheme, in) || !within(parts.host, in) || !within(parts.port, in))
        violation("parse_origin: parts are not views into the input", in);
    if (parts.scheme.empty() || !std::isalpha(static_cast<unsigned char>(parts.scheme[0])))
        violation("parse_origin: bad scheme accepted", in, parts.scheme);
    for (unsigned char c : parts.scheme)
        if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') violation("parse_origin: bad scheme accepted", in, parts.scheme);
    if (parts.host.empty()) violation("parse_origin: empty host accepted", in);
    for (unsigned char c : parts.host)
        if (c <= 0x20 || c >= 0x7f || c == '@' || c == '*' || c == '/' || c == '?' || c == '#' || c == '\\')
            violation("parse_origin: bad host character accepted", in, parts.host);
    if (!parts.port.empty()) {
        if (parts.port.size() > 5) violation("parse_origin: long port accepted", in, parts.port);
        unsigned v = 0;
        for (unsigned char c : parts.port) {
            if (c < '0' || c > '9') violation("parse_origin: non-digit port accepted", in, parts.port);
            v = v * 10 + (c - '0');
        }
        if (v == 0 || v > 65535) violation("parse_origin: port out of range accepted", in, parts.port);
    }
    // The whole input is scheme "://" host [":" port]: nothing else.
    const std::size_t expect = parts.scheme.size() + 3 + parts.host.size() + (parts.port.empty() ? 0 : parts.port.size() + 1);
    if (expect != in.size()) violation("parse_origin: accepts more than scheme://host[:port]", in);
    const auto norm = cors::normalise_origin(parts);
    cors::OriginParts again;
    if (cors::parse_origin(norm, &again) != cors::OriginError::none)
        violation("normalise_origin: output does not parse", in, norm);
    if (cors::normalise_origin(again) != norm) violation("normalise_origin: not idempotent", in, norm);
}

class View final : public jwt::RequestView {
public:
    std::string_view authorization, x_token, cookie, query_;
    std::optional<std::string_view> header(std::string_view name) const override {
        auto eq = [](std::string_view a, std::string_view b) { return lower(a) == lower(b); };
        if (eq(name, "authorization") && !authorization.empty()) return authorization;
        if (eq(name, "x-token") && !x_token.empty()) return x_token;
        if (eq(name, "cookie") && !cookie.empty()) return cookie;
        return std::nullopt;
    }
    std::string_view query() const override { return query_; }
};

const jwt::TokenExtractor& extractor() {
    using K = config::TokenSource::Kind;
    static const jwt::TokenExtractor ex({{K::header, "Authorization", "Bearer "},
                                         {K::header, "X-Token", ""},
                                         {K::cookie, "access_token", ""},
                                         {K::query, "access_token", ""}});
    return ex;
}

void check_extraction(std::string_view in) {
    // Four parts separated by NUL: Authorization, X-Token, Cookie, query.
    View v;
    std::string_view* parts[] = {&v.authorization, &v.x_token, &v.cookie, &v.query_};
    std::string_view rest = in;
    for (std::size_t i = 0; i < 4; ++i) {
        const auto nul = i == 3 ? std::string_view::npos : rest.find('\0');
        *parts[i] = rest.substr(0, nul);
        if (nul == std::string_view::npos) break;
        rest.remove_prefix(nul + 1);
    }
    std::string scratch;
    const auto got = extractor().extract(v, scratch);
    if (got) {
        if (got->source >= extractor().sources().size()) violation("extract: source index out of range", in);
        if (got->source == 3) {
            const auto expected = jwt::find_query_param(v.query_, "access_token");
            if (!expected || *expected != got->token)
                violation("extract: query token is not the decoded access_token parameter", in, got->token);
        } else if (!within(got->token, in)) {
            violation("extract: token is not a substring of the request", in, got->token);
        }
    }
    if (auto t = jwt::strip_auth_prefix(v.authorization, "Bearer "); t && !within(*t, v.authorization))
        violation("strip_auth_prefix: result is not a substring of the value", in, *t);
    if (auto c = jwt::find_cookie(v.cookie, "access_token"); c && !within(*c, v.cookie))
        violation("find_cookie: result is not a substring of the header", in, *c);
    (void)jwt::remove_cookie(v.cookie, "access_token");
    (void)jwt::remove_query_param(v.query_, "access_token");
    std::string decoded;
    if (jwt::percent_decode(v.query_, decoded) && decoded.size() > v.query_.size())
        violation("percent_decode: output longer than input", in, decoded);
}

void check_split_target(std::string_view target) {
    std::string_view path, query;
    server::split_target(target, path, query);
    if (!within(query, target)) violation("split_target: query is not a substring of the target", target, query);
    if (!within(path, target) && path != "/") violation("split_target: path is not a substring of the target", target, path);
    if (!target.empty() && target.front() == '/') {
        if (path.empty() || path.front() != '/') violation("split_target: origin-form path does not start with '/'", target, path);
        if (path.find('?') != std::string_view::npos) violation("split_target: path holds a '?'", target, path);
        std::string joined(path);
        if (target.size() > path.size()) {
            joined += '?';
            joined += query;
        }
        if (joined != target) violation("split_target: path and query do not make the target", target, joined);
    } else {
        // Absolute-form gives a path starting with '/', or none when it is refused.
        if (!path.empty() && path.front() != '/') violation("split_target: absolute-form path does not start with '/'", target, path);
        if (path.empty() && !query.empty()) violation("split_target: a refused target kept a query", target, query);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 4) {
        case 0: check_normalize_path(in); break;
        case 1: check_origin(in); break;
        case 2: check_extraction(in); break;
        case 3: check_split_target(in); break;
    }
    return 0;
}
