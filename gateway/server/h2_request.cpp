#include "server/h2_request.h"

#include <algorithm>

#include <boost/beast/core/string.hpp>

namespace authgate::server {
namespace {

bool lower_token(std::string_view name) {
    if (name.empty()) return false;
    for (const unsigned char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
        if (!ok) return false;  // upper case, ':', controls, space (RFC 9113 8.2.1)
    }
    return true;
}

bool value_ok(std::string_view value) {
    for (const unsigned char c : value)
        if (c == '\0' || c == '\r' || c == '\n') return false;
    // Leading or trailing whitespace is trimmed by one HTTP/1.1 reader and kept by another.
    return value.empty() || (value.front() != ' ' && value.front() != '\t' && value.back() != ' ' && value.back() != '\t');
}

// Connection-specific fields have no meaning in HTTP/2 (RFC 9113 8.2.2), and are exactly
// the ones an HTTP/1.1 upstream would take as framing or hop-by-hop instructions.
bool connection_specific(std::string_view name, std::string_view value) {
    if (name == "te") return !boost::beast::iequals(value, "trailers");
    return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
           name == "transfer-encoding" || name == "upgrade" || name == "http2-settings";
}

// A method or path becomes part of an HTTP/1.1 request line: nothing in it may end it.
bool line_safe(std::string_view s) {
    return !s.empty() && std::none_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

}  // namespace

void H2RequestHead::field(std::string_view name, std::string_view value) {
    bytes_ += name.size() + value.size() + 32;
    if (bytes_ > limit_) too_large_ = true;
    if (too_large_ || malformed_) return;  // nothing more is kept
    if (!value_ok(value)) {
        malformed_ = true;
        return;
    }
    if (!name.empty() && name.front() == ':') {
        std::string* into = nullptr;
        bool* seen = nullptr;
        if (name == ":method") into = &method_, seen = &has_method_;
        else if (name == ":path") into = &path_, seen = &has_path_;
        else if (name == ":scheme") into = &scheme_, seen = &has_scheme_;
        else if (name == ":authority") into = &authority_, seen = &has_authority_;
        if (!into || *seen || regular_seen_) {
            malformed_ = true;  // unknown, repeated, or after a regular field
            return;
        }
        *into = value;
        *seen = true;
        return;
    }
    regular_seen_ = true;
    if (!lower_token(name) || connection_specific(name, value)) {
        malformed_ = true;
        return;
    }
    if (name == "host") {
        if (has_host_) malformed_ = true;
        has_host_ = true;
        host_ = value;
        return;
    }
    if (name == "cookie") {
        if (!cookie_.empty()) cookie_ += "; ";
        cookie_ += value;
        return;
    }
    if (name == "content-length") has_content_length_ = true;
    fields_.append(name).append(": ").append(value).append("\r\n");
}

bool H2RequestHead::valid() const {
    if (malformed_ || !has_method_ || !has_scheme_ || !has_path_) return false;
    if (!line_safe(method_) || method_ == "CONNECT") return false;
    if (!line_safe(path_) || (path_.front() != '/' && !(path_ == "*" && method_ == "OPTIONS"))) return false;
    if (scheme_ != "https" && scheme_ != "http") return false;
    if (has_authority_ && authority_.empty()) return false;
    return !has_authority_ || !has_host_ || boost::beast::iequals(authority_, host_);
}

void H2RequestHead::write_http1(std::string& out, Body body, std::uint64_t length) const {
    out.clear();
    out.append(method_).append(" ").append(path_).append(" HTTP/1.1\r\n");
    if (has_authority_ || has_host_) out.append("host: ").append(has_authority_ ? authority_ : host_).append("\r\n");
    out.append(fields_);
    if (!cookie_.empty()) out.append("cookie: ").append(cookie_).append("\r\n");
    if (!has_content_length_) {
        switch (body) {
            case Body::none: break;
            case Body::length: out.append("content-length: ").append(std::to_string(length)).append("\r\n"); break;
            case Body::chunked: out.append("transfer-encoding: chunked\r\n"); break;
        }
    }
    out.append("\r\n");
}

}  // namespace authgate::server
