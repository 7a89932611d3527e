// Compiles config::CorsPolicy once into lookup structures and pre-joined header values, so
// a request only does: validate + lower-case the Origin into a stack buffer, one hash
// lookup (exact list), and for regex policies one cache lookup; then hands ready-made
// strings to the sink.
//
// Decisions worth knowing (the CORS rules the README describes):
// - An Origin that is not scheme://host[:port] (what browsers always send) is never
//   allowed, whatever the policy: nothing a browser would not send is ever reflected.
// - Scheme and host are case-insensitive: configured origins are normalised to lower case
//   (and lose a default port, as browsers serialise them); the request Origin is
//   lower-cased before lookup. Regexes see that lower-cased origin, so write them in lower
//   case (a warning flags upper-case letters). The reflected value is the Origin as sent.
// - "null" is allowed only when listed literally in allow_origins; neither a regex nor
//   allow_all_origins lets it through.
// - preflight() answers an allowed origin with the configured method and header lists even
//   when the requested method or headers are not in them: the browser compares and blocks,
//   which is what the page author sees in the console. Echoing the request would widen the
//   policy; answering nothing would hide why. method_allowed()/headers_allowed() report it.
#include <atomic>
#include <regex>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/strings.h"
#include "cors/origin.h"
#include "cors/origin_cache.h"
#include "cors/policy.h"

namespace authgate::cors {

namespace {

std::atomic<std::uint64_t> next_policy_id{1};

using strings::iequals;
using strings::is_token;
using strings::to_lower;
using strings::to_upper;

// Case-insensitive transparent hashing so header names from the request are looked up
// as string_views without lower-casing copies.
struct CaseInsensitiveHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        std::size_t h = 14695981039346656037ULL;  // FNV-1a
        for (char c : s) {
            h ^= static_cast<unsigned char>(to_lower(c));
            h *= 1099511628211ULL;
        }
        return h;
    }
};
struct CaseInsensitiveEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return iequals(a, b); }
};

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

std::string item_key(const char* list, std::size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

std::string_view regex_error_name(std::regex_constants::error_type code) {
    using namespace std::regex_constants;
    switch (code) {
        case error_collate: return "error_collate";
        case error_ctype: return "error_ctype";
        case error_escape: return "error_escape";
        case error_backref: return "error_backref";
        case error_brack: return "error_brack";
        case error_paren: return "error_paren";
        case error_brace: return "error_brace";
        case error_badbrace: return "error_badbrace";
        case error_range: return "error_range";
        case error_space: return "error_space";
        case error_badrepeat: return "error_badrepeat";
        case error_complexity: return "error_complexity";
        case error_stack: return "error_stack";
        default: return "error";
    }
}

// Upper-case letters that are literal in the pattern (not part of an escape such as \D,
// \cJ, \x4A or \u00C9): they can never match a lower-cased origin.
bool has_literal_upper_case(std::string_view pattern) {
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char e = pattern[i + 1];
            i += e == 'c' ? 2 : e == 'x' ? 3 : e == 'u' ? 5 : 1;
            continue;
        }
        if (c >= 'A' && c <= 'Z') return true;
    }
    return false;
}

// A quantified group that itself contains a quantifier, as in (a+)+ or ([a-z]*\.)*:
// std::regex backtracks, so such a pattern can take exponential time on a crafted Origin.
// A heuristic for a warning, not a parser: escapes and bracket expressions are skipped.
bool has_nested_quantifier(std::string_view pattern) {
    std::vector<bool> group_has_quantifier;  // one per open group
    bool any_nested = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\') {
            ++i;
        } else if (c == '[') {
            // Skip to the closing ']' (a ']' right after '[' or '[^' is literal).
            std::size_t j = i + 1;
            if (j < pattern.size() && pattern[j] == '^') ++j;
            if (j < pattern.size() && pattern[j] == ']') ++j;
            while (j < pattern.size() && pattern[j] != ']') j += pattern[j] == '\\' ? 2 : 1;
            i = j;
        } else if (c == '(') {
            group_has_quantifier.push_back(false);
        } else if (c == '+' || c == '*' || c == '{') {
            if (!group_has_quantifier.empty()) group_has_quantifier.back() = true;
        } else if (c == ')' && !group_has_quantifier.empty()) {
            const bool inner = group_has_quantifier.back();
            group_has_quantifier.pop_back();
            const char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
            if (inner && (next == '+' || next == '*' || next == '{')) any_nested = true;
            if (inner && !group_has_quantifier.empty()) group_has_quantifier.back() = true;
        }
    }
    return any_nested;
}

// "https://*.example.com" -> ^https://[a-z0-9-]+\.example\.com$, for the error message.
std::string regex_for_wildcard(std::string_view origin) {
    std::string out = "^";
    for (std::size_t i = 0; i < origin.size(); ++i) {
        const char c = origin[i];
        if (c == '*') {
            out += "[a-z0-9-]+";
        } else if (std::string_view(".+?()[]{}|^$\\").find(c) != std::string_view::npos) {
            out += '\\';
            out += to_lower(c);
        } else {
            out += to_lower(c);
        }
    }
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out + "$";
}

std::string origin_error_message(std::string_view origin, OriginError err) {
    std::string msg = "invalid origin \"" + std::string(origin) + "\": " + std::string(to_string(err));
    switch (err) {
        case OriginError::wildcard:
            msg += "; use allow_origin_regexes, e.g. '" + regex_for_wildcard(origin) + "'";
            break;
        case OriginError::path: {
            // Suggest the origin without what follows the authority, when that parses.
            const auto start = origin.find("://");
            const auto end = start == std::string_view::npos ? start : origin.find_first_of("/?#", start + 3);
            OriginParts parts;
            if (end != std::string_view::npos && parse_origin(origin.substr(0, end), &parts) == OriginError::none) {
                msg += " (did you mean \"" + normalise_origin(parts) + "\"?)";
            } else {
                msg += " (expected scheme://host[:port])";
            }
            break;
        }
        default:
            msg += " (expected scheme://host[:port], or \"null\")";
            break;
    }
    return msg;
}

class CompiledPolicy final : public Policy {
public:
    CompiledPolicy(const config::CorsPolicy& cfg, config::Diagnostics& diag);

    const std::string& name() const override { return name_; }
    std::uint64_t id() const override { return id_; }
    bool wildcard() const override { return allow_all_ && !credentials_; }

    bool origin_allowed(std::string_view origin, OriginCache* cache) const override;
    void preflight(std::string_view origin, std::string_view request_method, std::string_view request_headers,
                   bool request_private_network, OriginCache* cache, HeaderSink& out) const override;
    void actual(std::string_view origin, OriginCache* cache, HeaderSink& out) const override;
    bool method_allowed(std::string_view request_method) const override;
    bool headers_allowed(std::string_view request_headers) const override;

private:
    void compile_origins(const config::CorsPolicy& cfg, config::Diagnostics& diag);
    void compile_regexes(const config::CorsPolicy& cfg, config::Diagnostics& diag);
    void compile_methods(const config::CorsPolicy& cfg, config::Diagnostics& diag);
    void compile_headers(const config::CorsPolicy& cfg, config::Diagnostics& diag);
    bool regex_allows(std::string_view lowered) const;
    void emit_origin(std::string_view origin, HeaderSink& out) const;

    std::string name_;
    std::uint64_t id_;

    // Who is allowed.
    std::unordered_set<std::string, StringHash, std::equal_to<>> exact_;  // normalised
    bool allow_null_ = false;
    std::vector<std::regex> regexes_;
    bool allow_all_ = false;
    bool credentials_ = false;
    bool private_network_ = false;

    // What preflights may ask for (for method_allowed / headers_allowed).
    std::vector<std::string> methods_;  // upper case, deduplicated
    bool any_method_ = false;           // "*" listed, without credentials
    std::unordered_set<std::string, CaseInsensitiveHash, CaseInsensitiveEqual> headers_;
    bool any_header_ = false;  // "*" listed, without credentials

    // Header values, joined once.
    std::string methods_value_;
    std::string headers_value_;
    std::string expose_value_;
    std::string max_age_value_;  // empty = not configured
};

CompiledPolicy::CompiledPolicy(const config::CorsPolicy& cfg, config::Diagnostics& diag)
    : name_(cfg.name),
      id_(next_policy_id.fetch_add(1, std::memory_order_relaxed)),
      allow_all_(cfg.allow_all_origins),
      credentials_(cfg.allow_credentials),
      private_network_(cfg.allow_private_network) {
    compile_origins(cfg, diag);
    compile_regexes(cfg, diag);
    compile_methods(cfg, diag);
    compile_headers(cfg, diag);
    if (cfg.max_age) max_age_value_ = std::to_string(*cfg.max_age);

    if (allow_all_ && credentials_) {
        diag.warning(cfg.marks.at("allow_all_origins"),
                     "cors policy \"" + name_ +
                         "\": allow_all_origins with allow_credentials reflects ANY origin with credentials: every "
                         "web site can make credentialed requests and read the responses; list the origins instead");
    }
    if (allow_all_ && (!cfg.allow_origin_regexes.empty() || !exact_.empty())) {
        diag.warning(cfg.marks.at("allow_all_origins"),
                     "cors policy \"" + name_ +
                         "\": allow_all_origins makes allow_origins and allow_origin_regexes redundant");
    }
    if (!allow_all_ && exact_.empty() && !allow_null_ && cfg.allow_origin_regexes.empty()) {
        diag.warning(cfg.marks.self, "cors policy \"" + name_ + "\" allows no origin");
    }
}

void CompiledPolicy::compile_origins(const config::CorsPolicy& cfg, config::Diagnostics& diag) {
    for (std::size_t i = 0; i < cfg.allow_origins.size(); ++i) {
        const std::string& origin = cfg.allow_origins[i];
        const auto& mark = cfg.marks.at(item_key("allow_origins", i));
        if (origin == "null") {
            allow_null_ = true;
            continue;
        }
        OriginParts parts;
        if (const auto err = parse_origin(origin, &parts); err != OriginError::none) {
            diag.error(mark, origin_error_message(origin, err));
            continue;  // left out: the policy stays safe to use, just narrower
        }
        if (!exact_.insert(normalise_origin(parts)).second) {
            diag.warning(mark, "duplicate origin \"" + origin + "\"");
        }
    }
}

// The first Python-only anchor (\A, \Z, \z) outside a bracket expression, or 0.
// django-cors-headers' CORS_ALLOWED_ORIGIN_REGEXES use them; in an ECMAScript regex they
// are identity escapes for the letters, so a pattern carried over unchanged never matches.
char python_anchor(std::string_view pattern) {
    bool in_brackets = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char next = pattern[++i];
            if (!in_brackets && (next == 'A' || next == 'Z' || next == 'z')) return next;
        } else if (c == '[') {
            in_brackets = true;
        } else if (c == ']') {
            in_brackets = false;
        }
    }
    return 0;
}

void CompiledPolicy::compile_regexes(const config::CorsPolicy& cfg, config::Diagnostics& diag) {
    for (std::size_t i = 0; i < cfg.allow_origin_regexes.size(); ++i) {
        const std::string& pattern = cfg.allow_origin_regexes[i];
        const auto& mark = cfg.marks.at(item_key("allow_origin_regexes", i));
        try {
            // nosubs: only yes/no is needed, which spares the matcher sub-match tracking.
            regexes_.emplace_back(pattern, std::regex::ECMAScript | std::regex::nosubs | std::regex::optimize);
        } catch (const std::regex_error& e) {
            diag.error(mark, "invalid regex '" + pattern + "': " + e.what() + " (" +
                                 std::string(regex_error_name(e.code())) + ")");
            continue;
        }
        if (has_literal_upper_case(pattern)) {
            diag.warning(mark, "regex '" + pattern +
                                   "' has upper-case letters, but origins are matched with scheme and host lower-cased "
                                   "(as browsers send them); those letters never match");
        }
        if (const char a = python_anchor(pattern)) {
            diag.warning(mark, "regex '" + pattern + "' uses \\" + std::string(1, a) +
                                   ", a Python anchor: here it matches the letter " + std::string(1, a) +
                                   ", so the pattern never matches an origin; drop it (the whole origin must "
                                   "match already) or write ^ and $");
        }
        if (has_nested_quantifier(pattern)) {
            diag.warning(mark, "regex '" + pattern +
                                   "' has a repeated group that itself repeats (like (a+)+): matching can take "
                                   "exponential time on a crafted Origin; rewrite it without nested repetition");
        }
    }
}

void CompiledPolicy::compile_methods(const config::CorsPolicy& cfg, config::Diagnostics& diag) {
    for (std::size_t i = 0; i < cfg.allow_methods.size(); ++i) {
        const std::string& method = cfg.allow_methods[i];
        if (!is_token(method)) {
            diag.error(cfg.marks.at(item_key("allow_methods", i)),
                       "invalid method \"" + method + "\": not an HTTP token");
            continue;
        }
        // Browsers upper-case the standard methods before sending them, so "get" in the
        // config means GET. Non-standard ones keep their case in the request; we still
        // upper-case the configured name, so "patch" means PATCH (what fetch() users mean).
        std::string upper;
        for (char c : method) upper += to_upper(c);
        if (upper == "*") {
            if (credentials_) {
                diag.warning(cfg.marks.at(item_key("allow_methods", i)),
                             "with allow_credentials browsers read \"*\" in Access-Control-Allow-Methods as a literal "
                             "method name, not a wildcard");
            } else {
                any_method_ = true;
            }
        }
        bool seen = false;
        for (const auto& m : methods_) seen = seen || m == upper;
        if (!seen) methods_.push_back(std::move(upper));
    }
    methods_value_ = strings::join(methods_);
}

void CompiledPolicy::compile_headers(const config::CorsPolicy& cfg, config::Diagnostics& diag) {
    std::vector<std::string> allow;
    for (std::size_t i = 0; i < cfg.allow_headers.size(); ++i) {
        const std::string& header = cfg.allow_headers[i];
        const auto& mark = cfg.marks.at(item_key("allow_headers", i));
        if (!is_token(header)) {
            diag.error(mark, "invalid header name \"" + header + "\" in allow_headers: not an HTTP token");
            continue;
        }
        if (header == "*") {
            if (credentials_) {
                diag.warning(mark, "with allow_credentials browsers read \"*\" in Access-Control-Allow-Headers as a "
                                   "literal header name, not a wildcard");
            } else {
                any_header_ = true;
            }
        }
        if (headers_.insert(header).second) allow.push_back(header);
    }
    headers_value_ = strings::join(allow);

    std::vector<std::string> expose;
    std::unordered_set<std::string, CaseInsensitiveHash, CaseInsensitiveEqual> seen;
    for (std::size_t i = 0; i < cfg.expose_headers.size(); ++i) {
        const std::string& header = cfg.expose_headers[i];
        if (!is_token(header)) {
            diag.error(cfg.marks.at(item_key("expose_headers", i)),
                       "invalid header name \"" + header + "\" in expose_headers: not an HTTP token");
            continue;
        }
        if (seen.insert(header).second) expose.push_back(header);
    }
    expose_value_ = strings::join(expose);
}

bool CompiledPolicy::regex_allows(std::string_view lowered) const {
    try {
        for (const auto& re : regexes_) {
            if (std::regex_match(lowered.begin(), lowered.end(), re)) return true;
        }
    } catch (...) {
        // std::regex may throw (error_complexity, error_stack, bad_alloc) on a hostile
        // input; failing closed keeps exceptions off the request path.
    }
    return false;
}

bool CompiledPolicy::origin_allowed(std::string_view origin, OriginCache* cache) const {
    if (origin == "null") return allow_null_;
    if (origin.empty() || origin.size() > kMaxOriginLength) return false;

    char buffer[kMaxOriginLength];
    const std::string_view lowered = ascii_lower(origin, buffer);
    if (parse_origin(lowered) != OriginError::none) return false;

    if (allow_all_) return true;
    if (exact_.find(lowered) != exact_.end()) return true;
    if (regexes_.empty()) return false;

    if (cache) {
        if (const auto hit = cache->find(id_, lowered)) return *hit;
    }
    const bool allowed = regex_allows(lowered);
    if (cache) {
        try {
            cache->insert(id_, lowered, allowed);
        } catch (...) {
            // Out of memory: the answer is still right, it just is not remembered.
        }
    }
    return allowed;
}

void CompiledPolicy::emit_origin(std::string_view origin, HeaderSink& out) const {
    // "*" cannot carry credentials (Fetch), so a credentialed allow-all reflects instead.
    out.set("Access-Control-Allow-Origin", wildcard() ? std::string_view("*") : origin);
    if (credentials_) out.set("Access-Control-Allow-Credentials", "true");
}

void CompiledPolicy::preflight(std::string_view origin, std::string_view /*request_method*/,
                               std::string_view /*request_headers*/, bool request_private_network,
                               OriginCache* cache, HeaderSink& out) const {
    if (!origin_allowed(origin, cache)) return;
    emit_origin(origin, out);
    // The configured lists whatever was asked: see the note at the top of this file.
    if (!methods_value_.empty()) out.set("Access-Control-Allow-Methods", methods_value_);
    if (!headers_value_.empty()) out.set("Access-Control-Allow-Headers", headers_value_);
    if (!max_age_value_.empty()) out.set("Access-Control-Max-Age", max_age_value_);
    if (request_private_network && private_network_) out.set("Access-Control-Allow-Private-Network", "true");
}

void CompiledPolicy::actual(std::string_view origin, OriginCache* cache, HeaderSink& out) const {
    if (!origin_allowed(origin, cache)) return;
    emit_origin(origin, out);
    if (!expose_value_.empty()) out.set("Access-Control-Expose-Headers", expose_value_);
}

bool CompiledPolicy::method_allowed(std::string_view request_method) const {
    if (!is_token(request_method)) return false;
    if (any_method_) return true;
    for (const auto& m : methods_) {
        if (m == request_method) return true;
    }
    return false;
}

bool CompiledPolicy::headers_allowed(std::string_view request_headers) const {
    while (!request_headers.empty()) {
        const auto comma = request_headers.find(',');
        const auto item = strings::trim_ows(request_headers.substr(0, comma));
        request_headers = comma == std::string_view::npos ? std::string_view{} : request_headers.substr(comma + 1);
        if (item.empty()) continue;
        if (headers_.find(item) != headers_.end()) continue;
        // Fetch: the "*" wildcard never covers Authorization, it must be listed by name.
        if (any_header_ && !iequals(item, "authorization")) continue;
        return false;
    }
    return true;
}

}  // namespace

std::shared_ptr<const Policy> Policy::create(const config::CorsPolicy& cfg, config::Diagnostics& diag) {
    // Always returns a policy: entries with errors are left out (narrower, never wider),
    // so it is safe even if a caller forgets to check diag.ok() before using it.
    return std::make_shared<CompiledPolicy>(cfg, diag);
}

}  // namespace authgate::cors
