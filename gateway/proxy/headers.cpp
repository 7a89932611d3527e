#include "proxy/headers.h"

#include <array>
#include <string>
#include <unordered_set>

#include "config/strings.h"

namespace authgate::proxy {
namespace {

using strings::iequals;
using strings::trim_ows;

}  // namespace

namespace {
template <class Fields>
void append_fields(const Fields& fields, std::string& out) {
    for (const auto& f : fields) {
        out += f.name_string();
        out += ": ";
        out += f.value();
        out += "\r\n";
    }
    out += "\r\n";
}
}  // namespace

template <class Fields>
void write_request_head(const http::header<true, Fields>& head, std::string& out) {
    out += head.method_string();
    out += ' ';
    out += head.target();
    out += " HTTP/1.1\r\n";
    append_fields(head, out);
}

template <class Fields>
void write_response_head(const http::header<false, Fields>& head, std::string& out) {
    out += "HTTP/1.1 ";
    const unsigned code = head.result_int();
    out += static_cast<char>('0' + code / 100 % 10);
    out += static_cast<char>('0' + code / 10 % 10);
    out += static_cast<char>('0' + code % 10);
    out += ' ';
    std::string_view reason = head.reason();
    out += reason.empty() ? std::string_view(http::obsolete_reason(head.result())) : reason;
    out += "\r\n";
    append_fields(head, out);
}

bool list_contains(std::string_view list, std::string_view token) {
    bool found = false;
    strings::for_each_list_item(list, [&](std::string_view t) { found = found || iequals(t, token); });
    return found;
}

// One body per header function, instantiated for both field containers below.
namespace {

template <class Fields>
bool wants_upgrade_impl(const Fields& fields) {
    // Only WebSocket is tunnelled: any other protocol (h2c above all) would hand the
    // upstream a connection whose later requests the gateway never sees.
    auto upgrade = fields.find(http::field::upgrade);
    if (upgrade == fields.end() || !list_contains(upgrade->value(), "websocket")) return false;
    for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
         ++it) {
        if (list_contains(it->value(), "upgrade")) return true;
    }
    return false;
}

// The names a Connection header lists, looked up in time linear in the header's size:
// a few are compared one by one, more go into a hash set (an attacker may list thousands).
class ConnectionOptions {
public:
    void add(std::string_view token) {
        if (n_ < few_.size()) {
            few_[n_++] = token;
            return;
        }
        many_.insert(strings::lower(std::string(token)));
    }
    bool empty() const { return n_ == 0; }
    bool contains(std::string_view name) const {
        for (std::size_t i = 0; i < n_; ++i)
            if (iequals(name, few_[i])) return true;
        if (many_.empty()) return false;
        return many_.contains(strings::lower(std::string(name)));
    }

private:
    std::array<std::string_view, 8> few_;
    std::size_t n_ = 0;
    std::unordered_set<std::string> many_;
};

template <class Fields>
void strip_hop_by_hop_impl(Fields& fields, bool keep_upgrade) {
    // One walk over the fields instead of a lookup per name: this runs twice per request.
    // Headers named by Connection are hop-by-hop too; their names are views into the
    // Connection lines, which are therefore erased last. The caller has already refused a
    // message whose Connection names a framing field, and sets its own fields afterwards.
    ConnectionOptions named;
    bool has_connection = false;
    for (const auto& f : fields) {
        if (f.name() != http::field::connection) continue;
        has_connection = true;
        strings::for_each_list_item(f.value(), [&](std::string_view t) {
            if (keep_upgrade && iequals(t, "upgrade")) return;
            named.add(t);
        });
    }
    for (auto it = fields.begin(); it != fields.end();) {
        bool drop = false;
        switch (it->name()) {
            case http::field::connection: break;  // below
            case http::field::keep_alive:
            case http::field::te:
            case http::field::trailer:
            case http::field::transfer_encoding: drop = true; break;
            case http::field::upgrade: drop = !keep_upgrade; break;
            default: {
                const auto name = it->name_string();
                drop = (name.size() >= 6 && iequals(name.substr(0, 6), "proxy-")) ||
                       (!named.empty() && named.contains(name));
            }
        }
        it = drop ? fields.erase(it) : std::next(it);
    }
    if (has_connection) fields.erase(http::field::connection);
    if (keep_upgrade) fields.set(http::field::connection, "upgrade");
}

template <class Fields>
void append_to_list_impl(Fields& fields, std::string_view name, std::string_view value) {
    auto it = fields.find(name);
    if (it == fields.end()) {
        fields.insert(name, value);  // absent: nothing to erase first
        return;
    }
    if (it->value().empty()) {
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

template <class Fields>
void merge_vary_impl(Fields& fields, std::string_view token) {
    std::string joined;
    for (auto it = fields.find(http::field::vary); it != fields.end() && it->name() == http::field::vary; ++it) {
        if (trim_ows(it->value()) == "*") return;
        if (list_contains(it->value(), token)) return;
        if (!trim_ows(it->value()).empty()) {
            if (!joined.empty()) joined += ", ";
            joined += trim_ows(it->value());
        }
    }
    if (!joined.empty()) joined += ", ";
    joined += token;
    fields.set(http::field::vary, joined);
}

template <class Fields>
void strip_access_control_impl(Fields& fields) {
    for (auto it = fields.begin(); it != fields.end();) {
        auto name = it->name_string();
        if (name.size() > 15 && iequals(name.substr(0, 15), "access-control-")) {
            it = fields.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace

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

#define AUTHGATE_HEADER_FUNCTIONS(F)                                                                  \
    template void write_request_head(const http::header<true, F>&, std::string&);                    \
    template void write_response_head(const http::header<false, F>&, std::string&);                  \
    bool wants_upgrade(const F& f) { return wants_upgrade_impl(f); }                                  \
    void strip_hop_by_hop(F& f, bool keep_upgrade) { strip_hop_by_hop_impl(f, keep_upgrade); }        \
    void append_to_list(F& f, std::string_view n, std::string_view v) { append_to_list_impl(f, n, v); } \
    void merge_vary(F& f, std::string_view token) { merge_vary_impl(f, token); }                      \
    void strip_access_control(F& f) { strip_access_control_impl(f); }
AUTHGATE_HEADER_FUNCTIONS(http::fields)
AUTHGATE_HEADER_FUNCTIONS(ArenaFields)
#undef AUTHGATE_HEADER_FUNCTIONS

}  // namespace authgate::proxy
