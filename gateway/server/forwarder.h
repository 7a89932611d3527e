// The Forwarder: one forwarded request, for whichever downstream protocol it came in on,
// from the head prepare() left to the log line. It writes that head, waits for the body's
// first bytes, takes a connection from the worker's pool (one retry on a fresh connection
// when a reused one failed before answering a bodyless request), streams the body up,
// reads the response head, has prepare_response() rewrite it and relays the body down;
// when either side fails first, the gateway's own answer goes back instead.
//
// What it needs from the client side is the Downstream template parameter (the HTTP/1.1
// Session, session.cpp, and an HTTP/2 stream, h2_session.cpp), so a protocol plugs in
// without a copy of this:
//
//   asio::awaitable<bool> expect_body(Exchange&)
//       a body follows the head: start its deadline, tell the client to send it (HTTP/1.1:
//       100 Continue when asked); false when the client is gone
//   asio::awaitable<error_code> read_request_piece(Exchange&, std::span<char> into, std::size_t& got)
//       the next bytes of the request body (errors: the parser's, the stream's, or
//       asio::error::timed_out once the request_body deadline passed)
//   void end_body_deadline()                       the body is whole (or abandoned)
//   bool begin_response(Exchange&, ResponseParser&)
//       the downstream's framing of the rewritten head; returns whether the client
//       connection closes after this response
//   asio::awaitable<error_code> send_response_head()          the head alone, now
//   asio::awaitable<error_code> send_response_body(const char*, std::size_t, bool last)
//       the next body bytes (with the head, if it has not gone yet)
//   bool response_started() const                  has a send of the response begun?
//   asio::awaitable<void> tunnel(Up&, beast::flat_buffer& from_upstream, relay buffers)
//       after a 101: raw bytes both ways
//   asio::awaitable<bool> answer(Exchange&, const Reply&)   a response of the gateway's own
//   void log(const Exchange&)                       the access log line and the response metric
// The calls that end an exchange return whether the client connection may carry another
// request.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <tuple>

#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "proxy/framing.h"
#include "proxy/headers.h"
#include "server/io.h"
#include "server/prepare.h"
#include "server/responses.h"
#include "server/worker.h"

namespace authgate::server {

inline constexpr std::size_t kRelayBuffer = 32 * 1024;
using RelayBuffer = std::array<char, kRelayBuffer>;

template <class Downstream>
class Forwarder {
public:
    static constexpr std::size_t kUpstreamHeaderLimit = 64 * 1024;
    // Interim (1xx) responses accepted before the real one; more is a broken upstream.
    static constexpr int kMaxInterimResponses = 8;

    Forwarder(Downstream& down, Worker& w, proxy::Arena& arena) : down_(down), w_(w), arena_(arena) {}
    Forwarder(const Forwarder&) = delete;  // it points into its downstream, which holds it
    Forwarder& operator=(const Forwarder&) = delete;

    // The request prepare() decided, to the upstream and its response back to the client,
    // or the gateway's answer when either side fails. Returns whether the client connection
    // may carry another request.
    asio::awaitable<bool> forward(Exchange& ex);
    // Ends the exchange: nothing of it may point into the arena after this.
    void reset() { response_parser_.reset(); }

private:
    // How one attempt ended: done (the response went down, or was cut off: keep_ says
    // which), retry (a reused connection failed before any response byte), or a failure
    // before the client saw anything: the upstream's (error_) or the client body's (body_).
    enum class Step { done, retry, upstream_failed, body_failed };
    // One attempt on one upstream connection: request up, response down.
    template <class Up>
    asio::awaitable<Step> attempt(Exchange& ex, Up& up, proxy::UpstreamConn& conn, std::size_t first_piece,
                                  bool& reusable);
    // One failure, in one vocabulary: the 502/504 answered, the access log and the metric.
    void record_failure(Exchange& ex, proxy::UpstreamError e) {
        error_ = e;
        ex.upstream_error = proxy::to_string(e);
        w_.metrics.upstream_error(w_.upstream_slot(*ex.snap, ex.route->upstream), e);
    }

    Downstream& down_;
    Worker& w_;
    proxy::Arena& arena_;
    proxy::UpstreamError error_ = proxy::UpstreamError::reset;  // Step::upstream_failed: record_failure()'s
    BodyFailure body_ = BodyFailure::gone;                       // Step::body_failed
    bool keep_ = false;                                          // Step::done: the client may go on
    RelayBuffer up_buf_;    // request body chunks going up
    RelayBuffer down_buf_;  // response body chunks coming down
    std::string request_head_;
    char chunk_line_[24];   // a chunk-size line going up
    // The upstream response parser lives here rather than in a coroutine frame: Asio
    // recycles frames of up to about 1 KiB and allocates larger ones from the heap.
    std::optional<ResponseParser> response_parser_;
};

template <class Downstream>
asio::awaitable<bool> Forwarder<Downstream>::forward(Exchange& ex) {
    const bool has_body = !ex.parser.is_done();
    // The head is written now, as prepare() left it: the parser adds a chunked body's
    // trailer fields to the same container, and those must never reach the upstream.
    request_head_.clear();
    proxy::write_request_head(ex.parser.get(), request_head_);
    std::size_t first_piece = 0;
    if (has_body) {
        // The body's first bytes are awaited before an upstream connection is taken: a client
        // that sends a header and then trickles (or nothing) holds no upstream connection,
        // and is answered (408) while nothing has been forwarded.
        if (!co_await down_.expect_body(ex)) co_return false;
        if (const auto ec = co_await down_.read_request_piece(ex, up_buf_, first_piece)) {
            down_.end_body_deadline();
            const BodyFailure failed = body_failure(ec);
            if (failed == BodyFailure::gone) co_return false;
            co_return co_await down_.answer(ex, body_failure_reply(failed));
        }
    }
    for (int tries = 0;; ++tries) {
        proxy::UpstreamError err;
        auto conn = co_await w_.pool.acquire(*ex.snap, ex.route->upstream, tries > 0, err);
        if (!conn) {
            down_.end_body_deadline();
            spdlog::warn("request {}: upstream '{}' unavailable: {}", ex.request_id, ex.route->cfg->upstream,
                         proxy::to_string(err));
            record_failure(ex, err);
            co_return co_await down_.answer(ex, upstream_failure(err, has_body));
        }
        ex.upstream = conn->endpoint_text;
        bool reusable = false;
        keep_ = false;
        const Step step = conn->is_tls() ? co_await attempt(ex, conn->tls(), *conn, first_piece, reusable)
                                         : co_await attempt(ex, conn->plain(), *conn, first_piece, reusable);
        down_.end_body_deadline();
        switch (step) {
            case Step::retry:
                if (tries == 0 && !has_body) continue;
                record_failure(ex, proxy::UpstreamError::reset);
                [[fallthrough]];
            case Step::upstream_failed:
                // A refused head says the upstream is broken: the client starts afresh too.
                co_return co_await down_.answer(
                    ex, upstream_failure(error_, has_body || error_ == proxy::UpstreamError::bad_response));
            case Step::body_failed:
                if (body_ == BodyFailure::timeout) {
                    ex.status = 408;  // part of the body is upstream already: no answer can be honest
                } else if (body_ != BodyFailure::gone) {
                    co_return co_await down_.answer(ex, body_failure_reply(body_));
                }
                down_.log(ex);
                co_return false;
            case Step::done:
                if (reusable) w_.pool.release(*ex.snap, std::move(conn));
                down_.log(ex);
                co_return keep_;
        }
    }
}

template <class Downstream>
template <class Up>
asio::awaitable<typename Forwarder<Downstream>::Step> Forwarder<Downstream>::attempt(Exchange& ex, Up& up,
                                                                                    proxy::UpstreamConn& conn,
                                                                                    std::size_t first_piece,
                                                                                    bool& reusable) {
    using proxy::frame;
    using proxy::Frame;
    auto& req = ex.parser.get();
    auto& up_tcp = conn.tcp();
    const auto& t = ex.snap->cfg.server.timeouts;
    // 1. Request head with the body bytes already read, then the rest as it arrives (re-framed
    //    as chunked when it came so; prepare() set the head's framing to match).
    const bool up_chunked = ex.parser.chunked();
    const bool has_body = up_chunked || ex.parser.content_length().value_or(0) > 0;
    const bool retryable = conn.reused && !has_body;
    auto fail = [&](proxy::UpstreamError e) {
        record_failure(ex, e);
        return Step::upstream_failed;
    };
    conn.buffer.max_size(io::buffer_cap(kUpstreamHeaderLimit));
    {
        const Frame f = frame(request_head_, up_buf_.data(), first_piece, up_chunked, ex.parser.is_done(), chunk_line_);
        if (co_await io::send_all(up, f, t.idle))
            co_return retryable ? Step::retry : fail(proxy::UpstreamError::reset);
        ex.bytes_in += first_piece;
    }
    while (!ex.parser.is_done()) {
        std::size_t got = 0;
        if (const auto rec = co_await down_.read_request_piece(ex, up_buf_, got)) {
            body_ = body_failure(rec);
            co_return Step::body_failed;
        }
        ex.bytes_in += got;
        const bool last = ex.parser.is_done();
        if (got == 0 && !(last && up_chunked)) continue;  // never an empty chunk
        if (co_await io::send_all(up, frame({}, up_buf_.data(), got, up_chunked, last, chunk_line_), t.idle))
            co_return fail(proxy::UpstreamError::reset);
    }

    down_.end_body_deadline();  // the body is whole: nothing of the client's may be cancelled now
    const auto sent = std::chrono::steady_clock::now();

    // 2. Response header, skipping interim 1xx (the gateway answered Expect itself).
    auto& rp = response_parser_;
    for (int interim = 0;; ++interim) {
        if (interim > kMaxInterimResponses) co_return fail(proxy::UpstreamError::bad_response);
        rp.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(arena_)));
        rp->header_limit(kUpstreamHeaderLimit);
        rp->body_limit(boost::none);  // streamed, never held whole
        if (req.method() == http::verb::head) rp->skip(true);
        up_tcp.expires_after(t.upstream_response);
        auto [rec, rn] = co_await http::async_read_header(up, conn.buffer, *rp, io::nothrow);
        if (rec == beast::error::timeout) co_return fail(proxy::UpstreamError::response_timeout);
        if (rec && retryable && rn == 0) co_return Step::retry;
        // A head the parser refused is the upstream's fault in another way than a close.
        if (rec) {
            const bool refused = rec.category() == http::make_error_code(http::error::bad_version).category() &&
                                 rec != http::error::end_of_stream && rec != http::error::partial_message;
            co_return fail(refused ? proxy::UpstreamError::bad_response : proxy::UpstreamError::reset);
        }
        const unsigned code = rp->get().result_int();
        if (code >= 100 && code < 200 && code != 101) continue;
        break;
    }
    const auto waited = std::chrono::steady_clock::now() - sent;
    w_.metrics.upstream_response(w_.upstream_slot(*ex.snap, ex.route->upstream),
                                 std::chrono::duration_cast<std::chrono::microseconds>(waited));
    const bool upstream_keep_alive = rp->keep_alive();
    if (const auto refused = prepare_response(ex, *rp, w_.origin_cache.get())) co_return fail(*refused);
    if (origin_refused(ex, rp->get())) w_.metrics.cors_origin_refused(w_.route_slot(*ex.snap, ex.route));
    const bool upgraded = rp->get().result() == http::status::switching_protocols;
    const bool body_follows = !rp->is_done();
    const bool close_after = down_.begin_response(ex, *rp);
    ex.status = rp->get().result_int();

    // 3. Response down. Body bytes that came with the header leave in the same write as the
    //    header (one send for a small response); later bytes are relayed as they arrive.
    if (upgraded || !body_follows || conn.buffer.size() == 0) {
        // No body, or nothing of it here yet: the client gets the header now (streams, SSE).
        if (co_await down_.send_response_head()) co_return Step::done;
    }
    if (upgraded) {
        co_await down_.tunnel(up, conn.buffer, up_buf_, down_buf_);
        co_return Step::done;
    }
    auto& res = rp->get();
    while (!rp->is_done()) {
        res.body().data = down_buf_.data();
        res.body().size = down_buf_.size();
        // A small body came with its header: parsed here, without a coroutine frame.
        boost::system::error_code rec;
        if (!proxy::parse_body_piece(*rp, conn.buffer, down_buf_.size(), rec))
            rec = co_await io::read_body_piece(up, conn.buffer, *rp, kUpstreamHeaderLimit, t.upstream_response);
        if (rec) {
            if (!down_.response_started()) co_return fail(proxy::UpstreamError::reset);  // the client has seen nothing
            // Closing is the only honest signal left: a clean end would present a truncated
            // body as complete.
            spdlog::warn("request {}: upstream {} failed mid-response: {}", ex.request_id, ex.upstream, rec.message());
            record_failure(ex, proxy::UpstreamError::mid_response);
            co_return Step::done;
        }
        const std::size_t got = down_buf_.size() - res.body().size;
        ex.bytes_out += got;
        const bool last = rp->is_done();
        if (got == 0 && !last) continue;  // see the request loop: never an empty chunk
        if (co_await down_.send_response_body(down_buf_.data(), got, last)) co_return Step::done;
    }
    up_tcp.expires_never();
    // Reused only when the response ended exactly at its framing: a byte after it would be
    // read as the start of the next client's response.
    reusable = upstream_keep_alive && !rp->need_eof() && conn.buffer.size() == 0;
    keep_ = !close_after;
    co_return Step::done;
}

}  // namespace authgate::server
