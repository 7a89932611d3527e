// The HTTP/2 downstream (nghttp2): a client connection that chose h2 — by ALPN on a TLS
// listener, or with the client preface on a plain one (server.http2.cleartext) — is handed
// here by the HTTP/1.1 Session once it knows. Each stream is one request and runs the same
// prepare() and the same Forwarder to the HTTP/1.1 upstream pool as an HTTP/1.1 request:
// the stream's head is rebuilt as an HTTP/1.1 head and parsed by the exchange's own Beast
// parser, so framing, limits and every hardening rule are decided by the code that decides
// them for HTTP/1.1. The templates stay in h2_session.cpp; this header has no nghttp2 in it.
#pragma once

#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "config/config.h"
#include "server/worker.h"

namespace authgate::server {

using H2TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The 24 bytes every HTTP/2 connection starts with (RFC 9113 3.4).
inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Whether the TLS handshake on `s` chose h2 by ALPN.
bool negotiated_h2(H2TlsStream& s);

// Reads a plain connection's first bytes into `buffer` (the first under the idle timeout,
// the rest under the header timeout) until they either are the client preface (true) or
// cannot be (false: they stay in `buffer` for the HTTP/1.1 parser, as do bytes after it).
asio::awaitable<bool> h2_preface_follows(beast::tcp_stream& s, beast::flat_buffer& buffer,
                                         const config::Timeouts& timeouts);

// Serves an HTTP/2 connection to its end; `buffered` holds what was read already (the
// preface, perhaps more). `handle` is the connection's entry in the worker's registry: it
// takes the GOAWAY hooks of shutdown and reload. The caller closes the stream afterwards.
asio::awaitable<void> serve_h2(Worker& w, beast::tcp_stream& s, beast::flat_buffer& buffered,
                               std::string_view client_ip, Worker::SessionHandle& handle);
asio::awaitable<void> serve_h2(Worker& w, H2TlsStream& s, beast::flat_buffer& buffered, std::string_view client_ip,
                               Worker::SessionHandle& handle);

}  // namespace authgate::server
