// Message framing owned by the gateway. A legacy upstream trusts every byte it reads as
// part of the request the gateway decided on, so where one message ends is never left to
// what survives of the client's (or upstream's) own fields: it is set here, from the
// parser's state, after every other header edit. Every forwarded head goes through
// set_body_framing(); every body byte goes through parse_buffered() and frame().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

namespace authgate::proxy {

namespace http = boost::beast::http;

// A chunk-size line with its extensions may be this long (the parser would otherwise buffer
// it whole, however long).
constexpr std::size_t kMaxChunkLine = 4096;

// How the body of a forwarded message is delimited.
enum class BodyFraming {
    none,            // no body: neither Content-Length nor Transfer-Encoding
    content_length,  // exactly `length` bytes
    chunked,         // re-framed by frame() as chunks, ending with the zero chunk
    close,           // until the connection closes (responses to HTTP/1.0 clients only)
};

// Removes every Content-Length and Transfer-Encoding field and writes the one framing
// field `framing` needs. Call it last, after hop-by-hop removal and every other edit.
template <class Fields>
void set_body_framing(Fields& fields, BodyFraming framing, std::uint64_t length = 0) {
    fields.erase(http::field::content_length);
    fields.erase(http::field::transfer_encoding);
    char digits[24];
    switch (framing) {
        case BodyFraming::content_length: {
            char* end = digits + sizeof digits;
            char* p = end;
            do {
                *--p = static_cast<char>('0' + length % 10);
                length /= 10;
            } while (length != 0);
            fields.insert(http::field::content_length, std::string_view(p, static_cast<std::size_t>(end - p)));
            break;
        }
        case BodyFraming::chunked: fields.insert(http::field::transfer_encoding, "chunked"); break;
        case BodyFraming::none:
        case BodyFraming::close: break;
    }
}

// The framing a parsed request's body goes upstream with, from the parser alone: chunked
// stays chunked (re-framed by frame()), a Content-Length stays, even 0 (some backends want
// one on every POST), and no framing field means no body.
template <class Parser>
BodyFraming body_framing_of(const Parser& parser) {
    if (parser.chunked()) return BodyFraming::chunked;
    if (parser.content_length()) return BodyFraming::content_length;
    return BodyFraming::none;
}

// Does the comma-separated Connection value name a field that frames the message
// (Host, Content-Length, Transfer-Encoding)? Such a message is refused, never forwarded.
bool connection_names_framing(std::string_view connection_value);

// Feeds the parser what is already buffered, without an asynchronous operation. True
// when that made progress or failed (`ec`); false when bytes must be read first.
template <class Parser>
bool parse_buffered(Parser& parser, boost::beast::flat_buffer& buffer, boost::system::error_code& ec) {
    if (buffer.size() == 0) return false;
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_buffer) ec = {};  // the body buffer is full: progress
    if (ec == http::error::need_more) {
        ec = {};
        return used > 0;
    }
    return true;
}

// Parses what `buffer` holds into the body buffer the caller set on `parser` (with `room`
// bytes) until body bytes come out, the message ends or parsing fails (`ec`): true then.
// False when more bytes must be read first.
template <class Parser>
bool parse_body_piece(Parser& parser, boost::beast::flat_buffer& buffer, std::size_t room,
                      boost::system::error_code& ec) {
    while (parse_buffered(parser, buffer, ec))
        if (ec || parser.get().body().size != room || parser.is_done()) return true;
    return false;  // what was buffered is parsed (a chunk-size line, say): read more
}

// The parser is in a chunked body and made no progress on `unparsed`: it is waiting for the
// end of a chunk-size line, or of the trailer section after the last chunk. Either may only
// grow so far. Returns the error to fail with once they are over their limits (a
// chunk-size line over kMaxChunkLine, or trailers over `trailer_limit`), else nothing.
std::optional<http::error> stalled_chunk_framing(std::string_view unparsed, std::size_t trailer_limit);

// The buffers of one write: the head if it has not gone out yet, then the body bytes,
// framed as one chunk (size line, data, CRLF) when chunked, plus the zero chunk that ends
// a chunked body on the last piece. `line` holds the size line until the write completes.
// Never an empty chunk: "0\r\n\r\n" would end the body early (n == 0 adds no chunk).
using Frame = std::array<boost::asio::const_buffer, 5>;
Frame frame(std::string_view head, const char* data, std::size_t n, bool chunked, bool last, char (&line)[24]);

}  // namespace authgate::proxy
