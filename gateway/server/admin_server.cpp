#include "server/admin_server.h"

#include <list>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace authgate::server {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// An admin request is a path and a few headers; anything bigger is not a scraper.
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 1024;
constexpr std::string_view kPrometheusType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
}  // namespace

struct AdminServer::Impl {
    Impl(Handlers h, Options o) : handlers(std::move(h)), options(o) {}

    // Declared before the io_context: a coroutine frame the io_context destroys unregisters
    // itself from this list.
    std::list<beast::tcp_stream*> connections;  // only touched on the admin thread
    Handlers handlers;
    Options options;
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::thread thread;
    std::uint16_t port = 0;

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(tcp::socket socket);
    http::response<http::string_body> answer(const http::request<http::string_body>& req);
};

AdminServer::AdminServer(const config::ListenAddress& listen, Handlers handlers, Options options)
    : impl_(std::make_unique<Impl>(std::move(handlers), options)) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(listen.host, ec);  // the loader's test too (parse_listen)
    if (ec) throw std::runtime_error("admin listen address '" + listen.host + "' is not an IP address");
    tcp::endpoint ep(addr, listen.port);
    auto& a = impl_->acceptor;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("cannot listen (admin) on " + listen.host + ":" + std::to_string(listen.port) + ": " +
                                 ec.message());
    impl_->port = a.local_endpoint().port();
}

AdminServer::~AdminServer() { stop(); }

std::uint16_t AdminServer::port() const { return impl_->port; }

void AdminServer::start() {
    if (impl_->thread.joinable()) return;
    asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

void AdminServer::stop() {
    if (!impl_->thread.joinable()) return;
    asio::post(impl_->ioc, [impl = impl_.get()] {
        boost::system::error_code ignored;
        impl->acceptor.close(ignored);
        for (auto* s : impl->connections) s->socket().close(ignored);
        // Every coroutine now resumes with an error and ends, so run() returns by itself.
    });
    impl_->thread.join();
}

asio::awaitable<void> AdminServer::Impl::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (!acceptor.is_open()) co_return;
        if (ec) {
            // EMFILE and friends: wait a little instead of spinning on the error.
            asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
            co_await pause.async_wait(nothrow);
            continue;
        }
        if (connections.size() >= options.max_connections) continue;  // closed by the socket's destructor
        asio::co_spawn(ioc, serve(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> AdminServer::Impl::serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    connections.push_front(&stream);
    struct Unregister {
        std::list<beast::tcp_stream*>& list;
        std::list<beast::tcp_stream*>::iterator it;
        ~Unregister() { list.erase(it); }
    } unregister{connections, connections.begin()};

    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
        // A new connection gets the header timeout for its first request and a kept-alive
        // one the idle timeout between requests; then the whole request must arrive within
        // the header timeout. A slow or silent client cannot hold a connection for long.
        if (buffer.size() == 0) {
            stream.expires_after(first ? options.header_timeout : options.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(1024), nothrow);
            if (ec) break;
            buffer.commit(n);
        }
        http::request_parser<http::string_body> parser;
        parser.header_limit(kHeaderLimit);
        parser.body_limit(kBodyLimit);
        stream.expires_after(options.header_timeout);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
        if (ec == beast::error::timeout || ec == http::error::end_of_stream) break;
        http::response<http::string_body> res;
        bool keep = false;
        if (ec) {
            res = http::response<http::string_body>{http::status::bad_request, 11};
            res.set(http::field::content_type, kTextType);
            res.body() = "bad request: " + ec.message() + "\n";
            res.prepare_payload();
        } else {
            const auto& req = parser.get();
            res = answer(req);
            keep = req.keep_alive();
        }
        res.keep_alive(keep);
        stream.expires_after(options.idle_timeout);
        auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
        if (wec || !keep) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
}

http::response<http::string_body> AdminServer::Impl::answer(const http::request<http::string_body>& req) {
    std::string_view target = req.target();
    std::string_view path = target.substr(0, target.find('?'));
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "authgate-admin");
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::content_type, kTextType);

    const bool known = path == "/healthz" || path == "/readyz" || path == "/metrics";
    if (!known) {
        res.result(http::status::not_found);
        res.body() = "not found: the admin listener serves /healthz, /readyz and /metrics\n";
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET, HEAD");
        res.body() = "method not allowed\n";
    } else if (path == "/healthz") {
        res.body() = "ok\n";
    } else if (path == "/readyz") {
        auto r = handlers.readiness();
        if (r.ready) {
            res.body() = r.note.empty() ? "ready\n" : "ready (" + r.note + ")\n";
        } else {
            res.result(http::status::service_unavailable);
            res.body() = "not ready: " + r.reason + "\n";
        }
    } else {
        res.set(http::field::content_type, kPrometheusType);
        res.body() = handlers.metrics();
    }
    res.prepare_payload();
    if (req.method() == http::verb::head) {
        // Same headers as GET, Content-Length included, and no body.
        const auto length = res.body().size();
        res.body().clear();
        res.content_length(length);
    }
    return res;
}

}  // namespace authgate::server
