// The two I/O steps every exchange is made of, shared by the Session (client side) and the
// Forwarder (upstream side): read the next piece of a message body, and write a set of
// buffers. Both bound memory and time: a read buffer never grows past buffer_cap(), and
// every read or asynchronous write runs under a deadline.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>

#include "proxy/framing.h"
#include "proxy/upstream_pool.h"

namespace authgate::server::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
using proxy::Clock;

inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// The most one read of a body adds to a connection's buffer. A buffer holds at most a
// header (or trailers) and one read beyond it: see buffer_cap().
inline constexpr std::size_t kReadSize = 16 * 1024;

template <class Stream>
beast::tcp_stream& lowest(Stream& s) {
    return beast::get_lowest_layer(s);
}

// The hard cap of a connection's read buffer: what it may hold unparsed is a header or
// trailer section (header_limit) or a chunk-size line, plus one read.
inline std::size_t buffer_cap(std::size_t header_limit) {
    return std::max(header_limit, proxy::kMaxChunkLine + 2) + 2 * kReadSize;
}

// Parses what `buffer` holds into the body buffer the caller set on `parser` until body
// bytes come out, the message ends or more bytes are needed; then reads more from `s`
// (under `timeout` per read; asio::error::timed_out once *cancelled is set by a deadline
// that cancelled the read) and parses on. A chunked body's size lines and trailers
// are held to their limits before anything more is read, so a connection never buffers
// more than buffer_cap(trailer_limit).
template <class S, class Parser>
asio::awaitable<boost::system::error_code> read_body_piece(S& s, beast::flat_buffer& buffer, Parser& parser,
                                                           std::size_t trailer_limit, Clock::duration timeout,
                                                           const bool* cancelled = nullptr) {
    const std::size_t room = parser.get().body().size;
    for (;;) {
        boost::system::error_code ec;
        if (proxy::parse_body_piece(parser, buffer, room, ec)) co_return ec;
        if (parser.chunked()) {
            const auto unparsed = buffer.cdata();
            if (auto e = proxy::stalled_chunk_framing(
                    std::string_view(static_cast<const char*>(unparsed.data()), unparsed.size()), trailer_limit))
                co_return *e;
        }
        if (cancelled && *cancelled) co_return asio::error::timed_out;  // the deadline passed meanwhile
        const std::size_t n = std::min(kReadSize, buffer.max_size() - buffer.size());
        if (n == 0) co_return boost::beast::http::error::buffer_overflow;
        lowest(s).expires_after(timeout);
        auto [rec, got] = co_await s.async_read_some(buffer.prepare(n), nothrow);
        if (cancelled && *cancelled) co_return asio::error::timed_out;
        if (rec == asio::error::eof) {
            parser.put_eof(ec);  // ends a close-delimited body; anything else was cut short
            co_return ec;
        }
        if (rec) co_return rec;
        buffer.commit(got);
    }
}

// Writes all of `buffers` (taken by value: the caller may return this awaitable without
// awaiting it first). On a plain socket the bytes go first straight to the kernel (the
// socket is non-blocking): a small response or request nearly always fits in the socket
// buffer whole, and then no timer, asynchronous operation or completion is needed.
// Whatever the kernel did not take (and anything on TLS) goes through an asynchronous
// write under `timeout`, as a slow reader must not hold the gateway.
template <class S, class Buffers>
asio::awaitable<boost::system::error_code> send_all(S& s, const Buffers buffers, Clock::duration timeout) {
    if constexpr (std::is_same_v<S, beast::tcp_stream>) {
        auto& socket = s.socket();
        boost::system::error_code ec;
        if (!socket.non_blocking()) socket.non_blocking(true, ec);
        const std::size_t total = asio::buffer_size(buffers);
        if (total == 0) co_return ec;
        const std::size_t sent = ec ? 0 : socket.send(buffers, 0, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
        if (ec || sent == total) co_return ec;
        beast::buffers_suffix<Buffers> rest(buffers);
        rest.consume(sent);
        s.expires_after(timeout);
        auto [wec, n] = co_await asio::async_write(s, rest, nothrow);
        co_return wec;
    } else {
        if (asio::buffer_size(buffers) == 0) co_return boost::system::error_code{};
        lowest(s).expires_after(timeout);
        auto [wec, n] = co_await asio::async_write(s, buffers, nothrow);
        co_return wec;
    }
}

}  // namespace authgate::server::io
