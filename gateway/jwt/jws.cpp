#include "jwt/jws.h"

#include <algorithm>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "jwt/base64url.h"

namespace authgate::jwt {
namespace {

enum class Decode { ok, bad_base64, bad_json };

// base64url segment -> JSON object, allocated from `storage`. Boost.JSON's error_code
// overload: no exceptions.
Decode parse_object(std::string_view b64, std::string& scratch, boost::json::storage_ptr storage,
                    boost::json::value& out) {
    scratch.clear();
    if (!base64url_decode(b64, scratch)) return Decode::bad_base64;
    boost::system::error_code ec;
    out = boost::json::parse(scratch, ec, std::move(storage));
    if (ec || !out.is_object()) return Decode::bad_json;
    return Decode::ok;
}

}  // namespace

Status parse_token(std::string_view token, ParsedToken& out) {
    if (token.size() > kMaxTokenBytes) return Status::token_too_large;
    const std::size_t dot1 = token.find('.');
    if (dot1 == std::string_view::npos) return Status::token_malformed;
    const std::size_t dot2 = token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return Status::token_malformed;  // JWE (five segments) and junk alike
    out.header_b64 = token.substr(0, dot1);
    out.payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    out.signing_input = token.substr(0, dot2);
    const std::string_view sig_b64 = token.substr(dot2 + 1);
    if (out.header_b64.empty() || out.payload_b64.empty()) return Status::token_malformed;

    std::string scratch;
    scratch.reserve(base64url_decoded_max(std::max(out.header_b64.size(), out.payload_b64.size())));
    // The header is only read here: it lives in a buffer on the stack (Boost.JSON spills
    // to the heap only for an unusually large one) instead of a heap block per value.
    unsigned char header_memory[1024];
    boost::json::monotonic_resource header_resource(header_memory, sizeof header_memory);
    boost::json::value header_value;
    switch (parse_object(out.header_b64, scratch, &header_resource, header_value)) {
        case Decode::ok: break;
        case Decode::bad_base64: return Status::token_malformed;
        case Decode::bad_json: return Status::header_invalid;
    }
    const auto& header = header_value.get_object();

    // RFC 7515 4.1.11: extensions listed in crit must be understood; authgate implements none.
    if (header.contains("crit")) return Status::crit_unsupported;
    const auto* alg = header.if_contains("alg");
    if (!alg || !alg->is_string()) return Status::header_invalid;
    const auto& alg_name = alg->get_string();
    out.alg = parse_algorithm(std::string_view(alg_name.data(), alg_name.size()));
    out.has_kid = false;
    out.kid.clear();
    if (const auto* kid = header.if_contains("kid")) {
        if (!kid->is_string()) return Status::header_invalid;
        out.kid.assign(kid->get_string().data(), kid->get_string().size());
        out.has_kid = true;
    }
    out.has_typ = false;
    out.typ.clear();
    if (const auto* typ = header.if_contains("typ")) {
        if (!typ->is_string()) return Status::header_invalid;
        out.typ.assign(typ->get_string().data(), typ->get_string().size());
        out.has_typ = true;
    }

    boost::json::value payload_value;
    switch (parse_object(out.payload_b64, scratch, {}, payload_value)) {
        case Decode::ok: break;
        case Decode::bad_base64: return Status::token_malformed;
        case Decode::bad_json: return Status::payload_invalid;
    }
    out.payload = std::move(payload_value.get_object());

    out.signature.clear();
    if (!base64url_decode(sig_b64, out.signature)) return Status::token_malformed;
    return Status::ok;
}

}  // namespace authgate::jwt
