// A small, deliberately strict HTTP/1.1 request reader for the fuzz targets: how a careful
// upstream would read what the gateway forwards. Not Beast, so that the gateway's parser
// and the reader cannot share a mistake. It refuses everything RFC 9112 lets a server
// refuse: obs-fold, bare CR or LF, whitespace before the colon, non-token field names,
// control characters in values, a request line that is not exactly
// "method SP target SP HTTP/1.1", more than one Content-Length, Transfer-Encoding other
// than exactly "chunked", Content-Length together with Transfer-Encoding, chunk sizes that
// are not plain hex, and chunk extensions (the gateway writes its own chunk lines).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authgate::fuzz {

struct StrictRequest {
    enum class State { complete, incomplete, error };
    State state = State::incomplete;
    std::string error;          // why, when State::error
    std::size_t consumed = 0;   // bytes of the message, when complete
    std::string_view method, target;
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    std::vector<std::pair<std::string_view, std::string_view>> trailers;
    bool chunked = false;
    std::optional<std::uint64_t> content_length;
    std::string body;  // de-chunked
    bool head_complete = false;
};

inline bool strict_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '.': case '^': case '_': case '`': case '|': case '~': return true;
        default: return false;
    }
}

inline bool strict_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

namespace detail {

// One line ending in CRLF at `pos`. nullopt + incomplete when no CRLF yet; error on a bare
// CR or LF inside it.
enum class LineResult { ok, incomplete, error };
inline LineResult strict_line(std::string_view in, std::size_t& pos, std::string_view& line, std::string& why) {
    for (std::size_t i = pos; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '\n') {
            why = "bare LF";
            return LineResult::error;
        }
        if (c == '\r') {
            if (i + 1 == in.size()) return LineResult::incomplete;
            if (in[i + 1] != '\n') {
                why = "bare CR";
                return LineResult::error;
            }
            line = in.substr(pos, i - pos);
            pos = i + 2;
            return LineResult::ok;
        }
    }
    return LineResult::incomplete;
}

// A field line: token ":" OWS value OWS; value of VCHAR / obs-text / SP / HTAB.
inline bool strict_field(std::string_view line, std::string_view& name, std::string_view& value, std::string& why) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
        why = "obs-fold";
        return false;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        why = "field line without ':'";
        return false;
    }
    name = line.substr(0, colon);
    if (name.empty()) {
        why = "empty field name";
        return false;
    }
    for (unsigned char c : name) {
        if (!strict_tchar(c)) {
            why = c == ' ' || c == '\t' ? "whitespace before ':'" : "invalid character in field name";
            return false;
        }
    }
    value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    for (unsigned char c : value) {
        if (c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f)) continue;
        why = "control character in field value";
        return false;
    }
    return true;
}

}  // namespace detail

// Reads one request from the start of `in`.
inline StrictRequest read_strict_request(std::string_view in) {
    using detail::LineResult;
    StrictRequest r;
    auto fail = [&](std::string why) {
        r.state = StrictRequest::State::error;
        r.error = std::move(why);
        return r;
    };
    std::size_t pos = 0;
    std::string_view line;
    std::string why;

    // Request line.
    switch (detail::strict_line(in, pos, line, why)) {
        case LineResult::error: return fail("request line: " + why);
        case LineResult::incomplete: return r;
        case LineResult::ok: break;
    }
    {
        const auto sp1 = line.find(' ');
        if (sp1 == std::string_view::npos || sp1 == 0) return fail("request line: no method");
        r.method = line.substr(0, sp1);
        for (unsigned char c : r.method)
            if (!strict_tchar(c)) return fail("request line: invalid method character");
        const auto rest = line.substr(sp1 + 1);
        const auto sp2 = rest.find(' ');
        if (sp2 == std::string_view::npos || sp2 == 0) return fail("request line: no target");
        r.target = rest.substr(0, sp2);
        for (unsigned char c : r.target)
            if (c < 0x21 || c >= 0x7f) return fail("request line: invalid target character");
        if (rest.substr(sp2 + 1) != "HTTP/1.1") return fail("request line: version is not HTTP/1.1");
    }

    // Header fields.
    for (;;) {
        switch (detail::strict_line(in, pos, line, why)) {
            case LineResult::error: return fail("header: " + why);
            case LineResult::incomplete: return r;
            case LineResult::ok: break;
        }
        if (line.empty()) break;
        std::string_view name, value;
        if (!detail::strict_field(line, name, value, why)) return fail("header: " + why);
        r.fields.emplace_back(name, value);
    }
    r.head_complete = true;

    // Framing: one Content-Length, or exactly "Transfer-Encoding: chunked", never both.
    int cls = 0, tes = 0;
    std::string_view cl, te;
    for (const auto& [n, v] : r.fields) {
        if (strict_iequals(n, "content-length")) {
            ++cls;
            cl = v;
        } else if (strict_iequals(n, "transfer-encoding")) {
            ++tes;
            te = v;
        }
    }
    if (cls > 1) return fail("more than one Content-Length");
    if (tes > 1) return fail("more than one Transfer-Encoding");
    if (cls && tes) return fail("Content-Length with Transfer-Encoding");
    if (tes) {
        if (!strict_iequals(te, "chunked")) return fail("Transfer-Encoding is not exactly chunked");
        r.chunked = true;
    }
    if (cls) {
        if (cl.empty() || cl.size() > 18) return fail("bad Content-Length");
        std::uint64_t n = 0;
        for (unsigned char c : cl) {
            if (c < '0' || c > '9') return fail("bad Content-Length");
            n = n * 10 + (c - '0');
        }
        r.content_length = n;
    }

    // Body.
    if (r.content_length) {
        const std::uint64_t n = *r.content_length;
        if (in.size() - pos < n) {
            r.body.assign(in.substr(pos));
            return r;
        }
        r.body.assign(in.substr(pos, static_cast<std::size_t>(n)));
        pos += static_cast<std::size_t>(n);
    } else if (r.chunked) {
        for (;;) {
            switch (detail::strict_line(in, pos, line, why)) {
                case LineResult::error: return fail("chunk size line: " + why);
                case LineResult::incomplete: return r;
                case LineResult::ok: break;
            }
            if (line.find(';') != std::string_view::npos) return fail("chunk extension forwarded");
            if (line.empty() || line.size() > 15) return fail("bad chunk size");
            std::uint64_t size = 0;
            for (unsigned char c : line) {
                int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (v < 0) return fail("bad chunk size");
                size = size * 16 + static_cast<unsigned>(v);
            }
            if (size == 0) break;
            if (in.size() - pos < size) {
                r.body.append(in.substr(pos));
                return r;
            }
            r.body.append(in.substr(pos, static_cast<std::size_t>(size)));
            pos += static_cast<std::size_t>(size);
            if (in.size() - pos < 2) {
                if (in.size() > pos && in[pos] != '\r') return fail("chunk data not followed by CRLF");
                return r;
            }
            if (in.substr(pos, 2) != "\r\n") return fail("chunk data not followed by CRLF");
            pos += 2;
        }
        // Trailer section.
        for (;;) {
            switch (detail::strict_line(in, pos, line, why)) {
                case LineResult::error: return fail("trailer: " + why);
                case LineResult::incomplete: return r;
                case LineResult::ok: break;
            }
            if (line.empty()) break;
            std::string_view name, value;
            if (!detail::strict_field(line, name, value, why)) return fail("trailer: " + why);
            r.trailers.emplace_back(name, value);
        }
    }
    r.state = StrictRequest::State::complete;
    r.consumed = pos;
    return r;
}

}  // namespace authgate::fuzz
