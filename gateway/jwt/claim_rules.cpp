#include "jwt/claim_rules.h"

#include <algorithm>

#include <boost/json/serialize.hpp>

#include "jwt/claim_path.h"

namespace authgate::jwt {
namespace {

// A claim element matches a configured value when the string equals it; numbers and
// bools compare by their JSON text ("true", "42") since YAML gives us strings.
bool element_equals(const boost::json::value& v, const std::string& want) {
    if (const auto* s = v.if_string()) return std::string_view(s->data(), s->size()) == want;
    if (v.is_number() || v.is_bool()) return boost::json::serialize(v) == want;
    return false;
}

bool value_matches_any(const boost::json::value& v, const std::vector<std::string>& accepted) {
    if (const auto* arr = v.if_array()) {
        for (const auto& item : *arr) {
            for (const auto& want : accepted) {
                if (element_equals(item, want)) return true;
            }
        }
        return false;
    }
    return std::any_of(accepted.begin(), accepted.end(), [&](const std::string& w) { return element_equals(v, w); });
}

bool scope_string_has(std::string_view scopes, std::string_view want) {
    while (!scopes.empty()) {
        const std::size_t sp = scopes.find(' ');
        if (scopes.substr(0, sp) == want) return true;
        if (sp == std::string_view::npos) break;
        scopes.remove_prefix(sp + 1);
    }
    return false;
}

bool has_scope(const boost::json::object& payload, const std::string& want) {
    for (const char* name : {"scope", "scp"}) {
        const auto* v = payload.if_contains(name);
        if (!v) continue;
        if (const auto* s = v->if_string()) {
            if (scope_string_has(std::string_view(s->data(), s->size()), want)) return true;
        } else if (const auto* arr = v->if_array()) {
            for (const auto& item : *arr) {
                if (const auto* is = item.if_string(); is && std::string_view(is->data(), is->size()) == want)
                    return true;
            }
        }
    }
    return false;
}

}  // namespace

Status ClaimRules::check(const boost::json::object& payload) const {
    for (const auto& [path, accepted] : rules_) {
        // A rule accepting nothing (the loader refuses one; a hand-built config may not)
        // refuses, even for "scope", where it would otherwise be vacuously met.
        if (accepted.empty()) return Status::insufficient_scope;
        if (path == "scope") {
            for (const auto& want : accepted) {
                if (!has_scope(payload, want)) return Status::insufficient_scope;
            }
            continue;
        }
        const auto* v = find_claim(payload, path);
        if (!v || !value_matches_any(*v, accepted)) return Status::insufficient_scope;
    }
    return Status::ok;
}

}  // namespace authgate::jwt
