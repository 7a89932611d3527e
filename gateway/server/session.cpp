// The HTTP/1.1 downstream: one Session per client connection (plain or TLS, a template on
// the stream type) runs a loop of requests: read a header, prepare() it, then answer it
// itself (errors, preflights) or hand it to the Forwarder (forwarder.h), which owns the
// exchange with the upstream and calls back here for the client's body and to send the
// response in HTTP/1.1 framing.
#include <array>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include "observe/access_log.h"
#include "proxy/framing.h"
#include "proxy/headers.h"
#include "server/forwarder.h"
#include "server/h2_session.h"
#include "server/io.h"
#include "server/prepare.h"
#include "server/responses.h"
#include "server/worker.h"

namespace authgate::server {
namespace http = beast::http;
using namespace std::chrono_literals;
using proxy::Clock;

namespace {

using io::lowest;
using io::nothrow;
using proxy::BodyFraming;

template <class Stream>
class Session {
public:
    // The snapshot the connection was accepted under stays alive with it: a TLS stream
    // refers to that snapshot's ssl::context.
    template <class... Args>
    Session(Worker& w, Args&&... args)
        : w_(w),
          accepted_under_(w.snapshot),
          stream_(std::forward<Args>(args)...),
          forwarder_(*this, w, arena_),
          body_timer_(w.ioc) {}
    Session(const Session&) = delete;  // its Forwarder and timer state point back into it
    Session& operator=(const Session&) = delete;
    ~Session() {
        if (deadline_) deadline_->stream = nullptr;
    }

    asio::awaitable<void> run(std::string client_ip);

    // ---- what the Forwarder asks of the downstream (see forwarder.h) ----
    asio::awaitable<bool> expect_body(Exchange& ex);
    // The next bytes of the client's request body into `into` (`got` of them), under the
    // request_body deadline. Errors are the parser's, the stream's, or
    // asio::error::timed_out when the deadline passed.
    asio::awaitable<boost::system::error_code> read_request_piece(Exchange& ex, std::span<char> into, std::size_t& got);
    void end_body_deadline();
    bool begin_response(Exchange& ex, ResponseParser& parser);
    // Both return send_all's own awaitable (no coroutine frame of their own); what it points
    // into are members. The head counts as sent once the send is made: the Forwarder awaits
    // each one at once.
    asio::awaitable<boost::system::error_code> send_response_head() {
        header_sent_ = true;
        return io::send_all(stream_, asio::buffer(head_), exchange_->snap->cfg.server.timeouts.idle);
    }
    asio::awaitable<boost::system::error_code> send_response_body(const char* data, std::size_t n, bool last) {
        const proxy::Frame f = proxy::frame(header_sent_ ? std::string_view() : std::string_view(head_), data, n,
                                            down_chunked_, last, chunk_line_);
        header_sent_ = true;
        return io::send_all(stream_, f, exchange_->snap->cfg.server.timeouts.idle);
    }
    bool response_started() const { return header_sent_; }
    template <class Up>
    asio::awaitable<void> tunnel(Up& up, beast::flat_buffer& from_upstream, RelayBuffer& up_buf, RelayBuffer& down_buf);
    asio::awaitable<bool> answer(Exchange& ex, const Reply& reply) { return send_error(ex, reply); }
    void log(const Exchange& ex);

private:
    asio::awaitable<bool> handle_request();
    // server::prepare() with this worker's state and clock, then the metrics of its auth
    // outcome.
    Next decide(Exchange& ex, Reply& reply);
    asio::awaitable<bool> send_error(Exchange& ex, const Reply& reply);
    asio::awaitable<bool> send_local(Exchange& ex, http::response<http::string_body>& res, bool close,
                                     bool cors_done = false);
    asio::awaitable<bool> answer_preflight(Exchange& ex);
    template <class From, class To>
    asio::awaitable<void> pump(From& from, To& to, RelayBuffer& buf);
    asio::awaitable<void> close();

    Worker& w_;
    std::shared_ptr<const proxy::Snapshot> accepted_under_;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::string client_ip_;
    Worker::SessionList::iterator handle_;
    std::string head_;         // the response head being sent (reused)
    bool header_sent_ = false;
    bool down_chunked_ = false;
    char chunk_line_[24];      // a chunk-size line being sent
    // The exchange in progress lives here rather than in the coroutine frames: Asio
    // recycles frames of up to about 1 KiB and allocates larger ones from the heap for
    // every request. Declared before it (and the forwarder's response parser): the arena
    // holds their header fields and must outlive them.
    proxy::Arena arena_;
    std::optional<Exchange> exchange_;
    Forwarder<Session> forwarder_;

    // The request_body deadline: the whole body must arrive within it. Armed only when a
    // body has to be waited for; when it fires it cancels the pending read without closing
    // the connection, so a 408 can still be answered. Its handler may run after the
    // session is gone, hence the shared state.
    struct BodyDeadline {
        beast::tcp_stream* stream = nullptr;  // null once the session is gone
        bool armed = false;
        bool fired = false;
        std::uint64_t generation = 0;
    };
    asio::steady_timer body_timer_;
    std::shared_ptr<BodyDeadline> deadline_;
    Clock::time_point body_deadline_{};
};

template <class Stream>
asio::awaitable<void> Session<Stream>::run(std::string client_ip) {
    client_ip_ = std::move(client_ip);
    w_.sessions.push_front({&lowest(stream_), true});
    handle_ = w_.sessions.begin();
    struct Unregister {
        Worker& w;
        Worker::SessionList::iterator it;
        ~Unregister() { w.session_ended(it); }
    } unregister{w_, handle_};

    const auto& timeouts = w_.snapshot->cfg.server.timeouts;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        lowest(stream_).expires_after(timeouts.header);
        auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, nothrow);
        if (ec) {
            spdlog::debug("tls handshake from {} failed: {}", client_ip_, ec.message());
            co_return;
        }
        // ALPN chose h2 (server.http2.enabled): the connection is an HTTP/2 one for good.
        if (negotiated_h2(stream_)) {
            co_await serve_h2(w_, stream_, buffer_, client_ip_, *handle_);
            co_await close();
            co_return;
        }
    } else if (w_.snapshot->cfg.server.http2.cleartext) {
        // h2c with prior knowledge: the client preface instead of a request line.
        if (co_await h2_preface_follows(stream_, buffer_, timeouts)) {
            co_await serve_h2(w_, stream_, buffer_, client_ip_, *handle_);
            co_await close();
            co_return;
        }
    }
    for (;;) {
        if (w_.draining) break;
        // Between requests the connection is idle: wait for the first byte under the idle
        // timeout, then give the whole header the (shorter) header timeout.
        if (buffer_.size() == 0) {
            handle_->idle = true;
            lowest(stream_).expires_after(w_.snapshot->cfg.server.timeouts.idle);
            auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), nothrow);
            if (ec) break;  // closed, idle timeout or shutdown
            buffer_.commit(n);
        }
        handle_->idle = false;
        bool keep_going = co_await handle_request();
        forwarder_.reset();
        exchange_.reset();
        arena_.reset();  // nothing of the exchange is left that could point into it
        if (!keep_going) break;
    }
    co_await close();
}

template <class Stream>
asio::awaitable<void> Session<Stream>::close() {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        lowest(stream_).expires_after(1s);
        co_await stream_.async_shutdown(nothrow);
    }
    boost::system::error_code ec;
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest(stream_).close();
}

template <class Stream>
void Session<Stream>::log(const Exchange& ex) {
    const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ex.start);
    w_.metrics.response(w_.route_slot(*ex.snap, ex.route), ex.status, duration);
    w_.metrics.requests_by_protocol[0].add();
    if (!ex.snap->cfg.log.access_log) return;
    observe::AccessRecord r;
    r.time = std::chrono::system_clock::now();
    r.request_id = ex.request_id;
    r.client = client_ip_;
    r.method = ex.method;
    r.path = ex.path;
    r.redact_query_params = ex.snap->query_token_params;
    r.route = ex.route ? std::string_view(ex.route->cfg->name) : std::string_view();
    r.upstream = ex.upstream;
    r.status = ex.status;
    r.bytes_in = ex.bytes_in;
    r.bytes_out = ex.bytes_out;
    r.duration = duration;
    r.auth = ex.auth;
    r.provider = ex.provider;
    r.upstream_error = ex.upstream_error;
    r.protocol = "h1";
    w_.access_log.write(r);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::send_error(Exchange& ex, const Reply& reply) {
    http::response<http::string_body> res = error_response(reply);
    co_return co_await send_local(ex, res, reply.close);
}

// Writes a response the gateway made itself (errors, preflights).
template <class Stream>
asio::awaitable<bool> Session<Stream>::send_local(Exchange& ex, http::response<http::string_body>& res, bool close,
                                                  bool cors_done) {
    const bool keep = finish_local(ex, res, close, cors_done, w_.draining, w_.origin_cache.get());
    if (!cors_done && origin_refused(ex, res)) w_.metrics.cors_origin_refused(w_.route_slot(*ex.snap, ex.route));
    ex.status = res.result_int();
    head_.clear();
    proxy::write_response_head(res, head_);
    // A HEAD request gets the head alone (Content-Length still tells the body's size).
    const std::string_view body = ex.method == "HEAD" ? std::string_view() : std::string_view(res.body());
    const std::array<asio::const_buffer, 2> out{asio::buffer(head_), asio::buffer(body.data(), body.size())};
    const auto ec = co_await io::send_all(stream_, out, ex.snap->cfg.server.timeouts.idle);
    ex.bytes_out += body.size();
    log(ex);
    co_return !ec && keep;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::answer_preflight(Exchange& ex) {
    http::response<http::string_body> res = preflight_response(ex, w_.origin_cache.get());
    w_.metrics.cors_preflight(w_.route_slot(*ex.snap, ex.route), !origin_refused(ex, res));
    co_return co_await send_local(ex, res, false, true);
}

// One suspension per outcome: the decisions are made synchronously in prepare(), which
// keeps this coroutine's frame small enough for Asio to recycle it between requests.
template <class Stream>
asio::awaitable<bool> Session<Stream>::handle_request() {
    Exchange& ex = exchange_.emplace(arena_, w_.snapshot);
    const auto& cfg = ex.snap->cfg;
    buffer_.max_size(io::buffer_cap(cfg.server.limits.max_header_bytes));

    // The header usually arrived whole with the bytes the idle wait read.
    boost::system::error_code ec;
    if (!proxy::parse_buffered(ex.parser, buffer_, ec) || (!ec && !ex.parser.is_header_done())) {
        lowest(stream_).expires_after(cfg.server.timeouts.header);
        std::tie(ec, std::ignore) = co_await http::async_read_header(stream_, buffer_, ex.parser, nothrow);
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted) co_return false;
    // A timed-out tcp_stream is already closed: nothing can be written back.
    if (ec == beast::error::timeout) co_return false;
    Reply reply;
    switch (ec ? bad_header(ex, ec, reply) : decide(ex, reply)) {
        case Next::forward: co_return co_await forwarder_.forward(ex);
        case Next::preflight: co_return co_await answer_preflight(ex);
        case Next::reply: break;
    }
    co_return co_await send_error(ex, reply);
}

template <class Stream>
Next Session<Stream>::decide(Exchange& ex, Reply& reply) {
    jwt::AuthOutcome auth;
    const DecisionContext ctx{w_.rng, w_.token_cache.get(), client_ip_, static_cast<std::int64_t>(std::time(nullptr))};
    const Next next = prepare(ex, ctx, auth, reply);
    if (!ex.auth.empty()) {  // the route's authenticator ran
        if (auth.provider) w_.metrics.jwt_decision(w_.provider_slot(*ex.snap, *auth.provider), auth.status);
        if (auth.action != jwt::AuthOutcome::Action::forward)
            w_.metrics.auth_denied(w_.route_slot(*ex.snap, ex.route), auth.status);
        if (auth.report_only_denial) {
            w_.metrics.auth_report_only(w_.route_slot(*ex.snap, ex.route), auth.status);
            spdlog::warn("report_only: request {} on route '{}' would be denied: {}", ex.request_id,
                         ex.route->cfg->name, ex.auth);
        }
    }
    return next;
}

template <class Stream>
void Session<Stream>::end_body_deadline() {
    if (!deadline_ || !deadline_->armed) return;
    deadline_->armed = false;
    ++deadline_->generation;  // a completion already queued finds another generation
    body_timer_.cancel();
}

template <class Stream>
asio::awaitable<boost::system::error_code> Session<Stream>::read_request_piece(Exchange& ex, std::span<char> into,
                                                                              std::size_t& got) {
    auto& body = ex.parser.get().body();
    body.data = into.data();
    body.size = into.size();
    const auto& cfg = ex.snap->cfg.server;
    boost::system::error_code ec;
    // Most bodies arrive with their header: only one that must be waited for arms the timer.
    if (proxy::parse_body_piece(ex.parser, buffer_, into.size(), ec)) {
        got = into.size() - body.size;
        co_return ec;
    }
    if (!deadline_) deadline_ = std::make_shared<BodyDeadline>();
    if (!deadline_->armed) {
        if (Clock::now() >= body_deadline_) co_return asio::error::timed_out;
        deadline_->stream = &lowest(stream_);
        deadline_->armed = true;
        deadline_->fired = false;
        body_timer_.expires_at(body_deadline_);
        body_timer_.async_wait([state = deadline_, generation = deadline_->generation](boost::system::error_code e) {
            if (e || !state->stream || !state->armed || state->generation != generation) return;
            state->fired = true;
            state->stream->cancel();  // the pending read fails; the connection stays open
        });
    }
    ec = co_await io::read_body_piece(stream_, buffer_, ex.parser, cfg.limits.max_header_bytes, cfg.timeouts.idle,
                                      &deadline_->fired);
    got = into.size() - body.size;
    co_return ec;
}

template <class Stream>
bool Session<Stream>::begin_response(Exchange& ex, ResponseParser& parser) {
    BodyFraming down;
    const bool close_after = http1_response_framing(ex, parser, w_.draining, down);
    down_chunked_ = !parser.is_done() && down == BodyFraming::chunked;
    header_sent_ = false;
    head_.clear();
    proxy::write_response_head(parser.get(), head_);
    return close_after;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::expect_body(Exchange& ex) {
    // The body must arrive whole within request_body of the end of its header.
    body_deadline_ = Clock::now() + ex.snap->cfg.server.timeouts.request_body;
    if (!ex.expect_continue || buffer_.size() > 0) co_return true;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    co_return !co_await io::send_all(stream_, asio::buffer(kContinue), ex.snap->cfg.server.timeouts.idle);
}

template <class Stream>
template <class From, class To>
asio::awaitable<void> Session<Stream>::pump(From& from, To& to, RelayBuffer& buf) {
    const auto idle = w_.snapshot->cfg.server.timeouts.idle;
    for (;;) {
        lowest(from).expires_after(idle);
        auto [rec, n] = co_await from.async_read_some(asio::buffer(buf), nothrow);
        if (rec) co_return;
        lowest(to).expires_after(idle);
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), nothrow);
        if (wec) co_return;
    }
}

// After a 101: raw bytes both ways until either side closes or idles out.
template <class Stream>
template <class Up>
asio::awaitable<void> Session<Stream>::tunnel(Up& up, beast::flat_buffer& from_upstream, RelayBuffer& up_buf,
                                              RelayBuffer& down_buf) {
    using namespace asio::experimental::awaitable_operators;
    // Bytes that arrived behind the headers belong to the tunnel.
    if (from_upstream.size() > 0) {
        auto [ec, n] = co_await asio::async_write(stream_, from_upstream.data(), nothrow);
        if (ec) co_return;
        from_upstream.consume(n);
    }
    if (buffer_.size() > 0) {
        auto [ec, n] = co_await asio::async_write(up, buffer_.data(), nothrow);
        if (ec) co_return;
        buffer_.consume(n);
    }
    co_await (pump(stream_, up, up_buf) || pump(up, stream_, down_buf));
}

template <class Stream>
asio::awaitable<void> run_session(std::unique_ptr<Session<Stream>> session, std::string client_ip) {
    co_await session->run(std::move(client_ip));
}

}  // namespace

void start_session(Worker& w, tcp::socket socket) {
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string ip = ec ? std::string("-") : remote.address().to_string();
    socket.set_option(tcp::no_delay(true), ec);
    if (w.snapshot->server_tls) {
        using TlsStream = beast::ssl_stream<beast::tcp_stream>;
        auto s = std::make_unique<Session<TlsStream>>(w, std::move(socket), *w.snapshot->server_tls);
        asio::co_spawn(w.ioc, run_session(std::move(s), std::move(ip)), asio::detached);
    } else {
        auto s = std::make_unique<Session<beast::tcp_stream>>(w, std::move(socket));
        asio::co_spawn(w.ioc, run_session(std::move(s), std::move(ip)), asio::detached);
    }
}

}  // namespace authgate::server
