#include "jwt/forward_claims.h"

#include <boost/json/serialize.hpp>

#include "jwt/claim_path.h"

namespace authgate::jwt {
namespace {

bool header_safe(std::string_view s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

void append_scalar(const boost::json::value& v, std::string& out) {
    if (const auto* s = v.if_string()) {
        out.append(s->data(), s->size());
    } else {
        out += boost::json::serialize(v);
    }
}

}  // namespace

bool format_claim_value(const boost::json::value& v, std::string& out) {
    out.clear();
    if (v.is_array()) {
        bool first = true;
        for (const auto& item : v.get_array()) {
            if (!first) out += ',';
            first = false;
            append_scalar(item, out);
        }
    } else {
        // Objects serialize compactly; JSON escaping keeps control chars out of them.
        append_scalar(v, out);
    }
    return header_safe(out);
}

Status ForwardClaims::build(const boost::json::object& payload,
                            std::vector<std::pair<std::string, std::string>>& out) const {
    std::string value;
    for (const auto& [path, header] : mapping_) {
        const auto* v = find_claim(payload, path);
        if (!v || v->is_null()) continue;
        if (!format_claim_value(*v, value)) return Status::claim_value_invalid;
        out.emplace_back(header, value);
    }
    return Status::ok;
}

}  // namespace authgate::jwt
