#include "jwt/jwks.h"

#include <atomic>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace authgate::jwt {

std::uint64_t next_key_generation() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

JwksParseResult parse_jwks(std::string_view json) {
    JwksParseResult result;
    if (json.size() > kMaxJwksBytes) {
        result.error = "JWKS document too large";
        return result;
    }
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(json, ec);
    if (ec) {
        result.error = "JWKS is not valid JSON: " + ec.message();
        return result;
    }
    const auto* root = doc.if_object();
    const auto* keys = root ? root->if_contains("keys") : nullptr;
    if (!keys || !keys->is_array()) {
        result.error = "JWKS has no \"keys\" array";
        return result;
    }
    std::size_t index = 0;
    for (const auto& item : keys->get_array()) {
        const std::string where = "key " + std::to_string(index++);
        if (result.keys.size() >= kMaxJwksKeys) {
            result.skipped.push_back(where + ": more than 256 keys, rest ignored");
            break;
        }
        const auto* jwk = item.if_object();
        if (!jwk) {
            result.skipped.push_back(where + ": not an object");
            continue;
        }
        // Keys published for encryption must never verify signatures (RFC 7517 4.2).
        if (const auto* use = jwk->if_contains("use")) {
            if (!use->is_string() || use->get_string() != "sig") {
                result.skipped.push_back(where + ": use is not \"sig\"");
                continue;
            }
        }
        if (const auto* ops = jwk->if_contains("key_ops")) {
            bool verify = false;
            if (const auto* arr = ops->if_array()) {
                for (const auto& op : *arr) verify = verify || (op.is_string() && op.get_string() == "verify");
            }
            if (!verify) {
                result.skipped.push_back(where + ": key_ops lacks \"verify\"");
                continue;
            }
        }
        KeyResult made = Key::from_jwk(*jwk);
        if (!made.key) {
            result.skipped.push_back(where + ": " + made.error);
            continue;
        }
        result.keys.push_back(std::move(made.key));
    }
    result.ok = true;
    return result;
}

}  // namespace authgate::jwt
