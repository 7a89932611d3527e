// The h2 -> h1 translation of one HTTP/2 request stream, without I/O or nghttp2: its header
// fields checked as nghttp2 decodes them, the HTTP/1.1 head rebuilt from them for the
// exchange's Beast parser, and its DATA bytes fed to that parser in the framing the head
// announced. h2_session.cpp runs it on every stream; the fuzz target fuzz_h2 runs it on
// what nghttp2 decodes from arbitrary frames.
//
// What a stream may not carry (RFC 9113 8.2, 8.3), because an HTTP/1.1 upstream could read
// it differently from the gateway: names that are not lower-case tokens, CR/LF/NUL or
// leading/trailing whitespace in values, connection-specific fields (connection,
// keep-alive, proxy-connection, transfer-encoding, upgrade, te other than "trailers"),
// pseudo-headers other than :method, :scheme, :authority, :path, repeated or after a
// regular field, a missing :method, :scheme or :path, a :path that is not origin-form (or
// "*" for OPTIONS) or has bytes that would end a request line, CONNECT, an :authority
// that disagrees with host, and a second host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>

namespace authgate::server {

class H2RequestHead {
public:
    // Fields past `max_header_list_size` (as RFC 9113 6.5.2 counts them) are not kept.
    explicit H2RequestHead(std::size_t max_header_list_size) : limit_(max_header_list_size) {}

    // One field of the header block, pseudo or regular, as decoded.
    void field(std::string_view name, std::string_view value);
    // After the block: false when the stream is refused with RST_STREAM PROTOCOL_ERROR.
    // A head too_large() for the limit is answered 431 instead, if it is otherwise valid.
    bool valid() const;
    bool too_large() const { return too_large_; }
    bool has_content_length() const { return has_content_length_; }
    const std::string& method() const { return method_; }
    const std::string& path() const { return path_; }

    // The body's framing when the client declared no content-length: none (END_STREAM
    // came with the header, or with no byte), `length` bytes (END_STREAM came with the
    // first DATA frames), or chunked (more may follow).
    enum class Body { none, length, chunked };
    // The HTTP/1.1 head: request line, Host from :authority (else host), the fields in
    // order with cookie crumbs joined into one Cookie (RFC 9113 8.2.3), and the framing
    // field `body` calls for (none when the client declared a content-length).
    void write_http1(std::string& out, Body body, std::uint64_t length) const;

private:
    std::size_t limit_;
    std::size_t bytes_ = 0;
    std::string method_, path_, scheme_, authority_, host_, cookie_;
    std::string fields_;  // "name: value\r\n" lines: every regular field but host and cookie
    bool has_method_ = false, has_path_ = false, has_scheme_ = false, has_authority_ = false, has_host_ = false;
    bool has_content_length_ = false;
    bool regular_seen_ = false;
    bool malformed_ = false;
    bool too_large_ = false;
};

// Feeds an h2 request body to the exchange's parser in the framing the rebuilt head
// announced: the bytes as they are, or each piece as one chunk, and the last chunk when
// the stream ends (trailers are dropped). The parser is the one that read the head, so
// max_body_bytes and the end of the body are its decision, as on HTTP/1.1.
class H2BodyFeed {
public:
    explicit H2BodyFeed(bool chunked) : chunked_(chunked) {}

    // Body bytes (the caller set the parser's body buffer, with room for all of them).
    template <class Parser>
    void data(Parser& parser, std::string_view bytes, boost::system::error_code& ec) {
        if (bytes.empty()) return;
        if (chunked_) {
            // Beast reads a chunk's closing CRLF with the next size line: they go in together.
            const int n = std::snprintf(line_, sizeof line_, "%s%zx\r\n", chunks_ ? "\r\n" : "", bytes.size());
            put(parser, std::string_view(line_, static_cast<std::size_t>(n)), ec);
            ++chunks_;
            if (ec) return;
        }
        put(parser, bytes, ec);
    }
    // END_STREAM: the last chunk of a chunked body (a length-framed body has ended already,
    // or the parser reports it short).
    template <class Parser>
    void end(Parser& parser, boost::system::error_code& ec) {
        if (ended_) return;
        ended_ = true;
        if (chunked_) put(parser, chunks_ ? std::string_view("\r\n0\r\n\r\n") : std::string_view("0\r\n\r\n"), ec);
        else if (!parser.is_done()) ec = boost::beast::http::error::partial_message;
    }
    bool ended() const { return ended_; }

    // Puts all of `bytes` into the parser; bytes it does not take (past the message) are an
    // error, which nghttp2's content-length check makes unreachable.
    template <class Parser>
    static void put(Parser& parser, std::string_view bytes, boost::system::error_code& ec) {
        while (!bytes.empty() && !parser.is_done()) {
            const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
            bytes.remove_prefix(used);
            if (ec == boost::beast::http::error::need_more || ec == boost::beast::http::error::need_buffer) ec = {};
            if (ec) return;
            if (used == 0) break;
        }
        if (!bytes.empty()) ec = boost::beast::http::error::body_limit;
    }

private:
    bool chunked_;
    bool ended_ = false;
    std::size_t chunks_ = 0;
    char line_[24];
};

}  // namespace authgate::server
