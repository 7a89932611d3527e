#include "proxy/headers.h"

#include <array>
#include <vector>

#include <boost/beast/core/string.hpp>

namespace authgate::proxy {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

template <class F>
void for_each_token(std::string_view list, F&& f) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = trim(list.substr(0, comma));
        if (!item.empty()) f(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

bool iequals(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

}  // namespace

bool list_contains(std::string_view list, std::string_view token) {
    bool found = false;
    for_each_token(list, [&](std::string_view t) { found = found || iequals(t, token); });
    return found;
}

bool wants_upgrade(const http::fields& fields) {
    if (fields.find(http::field::upgrade) == fields.end()) return false;
    for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
         ++it) {
        if (list_contains(it->value(), "upgrade")) return true;
    }
    return false;
}

void strip_hop_by_hop(http::fields& fields, bool keep_upgrade) {
    // Headers named by Connection are hop-by-hop too; collect before erasing Connection.
    std::vector<std::string> named;
    for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
         ++it) {
        for_each_token(it->value(), [&](std::string_view t) {
            if (!(keep_upgrade && iequals(t, "upgrade"))) named.emplace_back(t);
        });
    }
    for (const auto& n : named) fields.erase(n);
    fields.erase(http::field::connection);
    fields.erase(http::field::keep_alive);
    fields.erase(http::field::te);
    fields.erase(http::field::trailer);
    fields.erase(http::field::transfer_encoding);
    if (!keep_upgrade) fields.erase(http::field::upgrade);
    for (auto it = fields.begin(); it != fields.end();) {
        auto name = it->name_string();
        if (name.size() >= 6 && iequals(name.substr(0, 6), "proxy-")) {
            it = fields.erase(it);
        } else {
            ++it;
        }
    }
    if (keep_upgrade) fields.set(http::field::connection, "upgrade");
}

void append_to_list(http::fields& fields, std::string_view name, std::string_view value) {
    auto it = fields.find(name);
    if (it == fields.end() || it->value().empty()) {
        fields.set(name, value);
        return;
    }
    std::string joined(it->value());
    // Several header lines of one list are one list (RFC 9110 5.3): fold them.
    for (auto next = std::next(it); next != fields.end() && iequals(next->name_string(), name); ++next) {
        joined += ", ";
        joined += next->value();
    }
    joined += ", ";
    joined += value;
    fields.set(name, joined);
}

void merge_vary(http::fields& fields, std::string_view token) {
    std::string joined;
    for (auto it = fields.find(http::field::vary); it != fields.end() && it->name() == http::field::vary; ++it) {
        if (trim(it->value()) == "*") return;
        if (list_contains(it->value(), token)) return;
        if (!trim(it->value()).empty()) {
            if (!joined.empty()) joined += ", ";
            joined += trim(it->value());
        }
    }
    if (!joined.empty()) joined += ", ";
    joined += token;
    fields.set(http::field::vary, joined);
}

void strip_access_control(http::fields& fields) {
    for (auto it = fields.begin(); it != fields.end();) {
        auto name = it->name_string();
        if (name.size() > 15 && iequals(name.substr(0, 15), "access-control-")) {
            it = fields.erase(it);
        } else {
            ++it;
        }
    }
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (unsigned char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=';
        if (!ok) return false;
    }
    return true;
}

std::string make_request_id(std::mt19937_64& rng) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(32, '0');
    for (int half = 0; half < 2; ++half) {
        std::uint64_t v = rng();
        for (int i = 0; i < 16; ++i) {
            out[half * 16 + i] = hex[v & 15];
            v >>= 4;
        }
    }
    return out;
}

}  // namespace authgate::proxy
