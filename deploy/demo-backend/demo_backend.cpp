// authgate-demo-backend: the "legacy service" the demo, the benchmarks and the integration
// tests put authgate in front of. It echoes what it received as JSON and, through query
// parameters, misbehaves on purpose so the gateway's handling can be tested:
//
//   ?status=N        answer with status N
//   ?bytes=N         body of N bytes ('x'), Content-Length framed (streamed, not buffered)
//   ?chunked=1       frame the body with chunked encoding
//   ?until_close=1   no length at all: the body ends when the connection closes
//   ?truncate=1      announce more bytes than are sent, then close (upstream dies mid-body)
//   ?delay_ms=N      wait N ms before the response header
//   ?cors=1          add its own "Access-Control-Allow-Origin: *" and "Vary: Accept-Encoding"
//   ?tao=1           add "Timing-Allow-Origin: *" (a page may read its Resource Timing entry)
//   ?close=1         answer with "Connection: close"
//   GET /__stats     {"requests": N}: requests seen so far (this one not counted)
//   Upgrade: websocket  answered 101, then every byte is echoed back (a tunnel check)
//
// Usage: authgate-demo-backend [--listen 127.0.0.1] [--port 9000] [--threads 1]
// Prints "listening on HOST:PORT" once ready (port 0 picks a free one).
#include <atomic>
#include <charconv>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
std::atomic<std::uint64_t> g_requests{0};

std::uint64_t query_number(std::string_view query, std::string_view name, std::uint64_t fallback = 0) {
    std::size_t pos = 0;
    while (pos < query.size()) {
        auto amp = query.find('&', pos);
        auto item = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
        auto eq = item.find('=');
        if (item.substr(0, eq) == name && eq != std::string_view::npos) {
            std::uint64_t v = fallback;
            auto value = item.substr(eq + 1);
            std::from_chars(value.data(), value.data() + value.size(), v);
            return v;
        }
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return fallback;
}

void json_string(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

// Writes `total` bytes of 'x' as the body of an already prepared header.
asio::awaitable<bool> stream_body(tcp::socket& s, http::response<http::buffer_body>& res, std::uint64_t total,
                                  std::uint64_t send_only) {
    static const std::string block(64 * 1024, 'x');
    http::response_serializer<http::buffer_body> sr{res};
    res.body().data = nullptr;
    res.body().more = true;
    auto [hec, hn] = co_await http::async_write_header(s, sr, nothrow);
    if (hec) co_return false;
    std::uint64_t sent = 0;
    while (sent < send_only) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), send_only - sent));
        res.body().data = const_cast<char*>(block.data());
        res.body().size = n;
        res.body().more = true;
        auto [ec, wn] = co_await http::async_write(s, sr, nothrow);
        if (ec && ec != http::error::need_buffer) co_return false;
        sent += n;
    }
    if (send_only < total) co_return false;  // truncate: the caller closes
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, wn] = co_await http::async_write(s, sr, nothrow);
    co_return !ec || ec == http::error::need_buffer;
}

asio::awaitable<void> echo_tunnel(tcp::socket& s, beast::flat_buffer& buffer) {
    if (buffer.size() > 0) {
        co_await asio::async_write(s, buffer.data(), nothrow);
        buffer.consume(buffer.size());
    }
    std::array<char, 16 * 1024> buf;
    for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), nothrow);
        if (ec) co_return;
        auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), n), nothrow);
        if (wec) co_return;
    }
}

asio::awaitable<void> session(tcp::socket s) {
    beast::flat_buffer buffer;
    std::array<char, 64 * 1024> body_buf;
    for (;;) {
        http::request_parser<http::buffer_body> p;
        p.header_limit(64 * 1024);
        p.body_limit(boost::none);
        auto [ec, n] = co_await http::async_read_header(s, buffer, p, nothrow);
        if (ec) co_return;
        auto& req = p.get();
        // Read (and count) the body as it streams; keep the first 64 KiB for the echo.
        std::string body;
        std::uint64_t body_bytes = 0;
        while (!p.is_done()) {
            req.body().data = body_buf.data();
            req.body().size = body_buf.size();
            auto [rec, rn] = co_await http::async_read_some(s, buffer, p, nothrow);
            if (rec && rec != http::error::need_buffer) co_return;
            std::size_t got = body_buf.size() - req.body().size;
            body_bytes += got;
            if (body.size() < 64 * 1024) body.append(body_buf.data(), std::min<std::size_t>(got, 64 * 1024 - body.size()));
        }
        std::string_view target = req.target();
        auto qpos = target.find('?');
        std::string_view path = target.substr(0, qpos);
        std::string_view query = qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1);

        if (path == "/__stats") {
            http::response<http::string_body> res{http::status::ok, 11};
            res.set(http::field::content_type, "application/json");
            res.body() = "{\"requests\":" + std::to_string(g_requests.load()) + "}\n";
            res.prepare_payload();
            res.keep_alive(req.keep_alive());
            auto [wec, wn] = co_await http::async_write(s, res, nothrow);
            if (wec || !req.keep_alive()) co_return;
            continue;
        }
        g_requests.fetch_add(1);

        if (auto d = query_number(query, "delay_ms")) {
            asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(d));
            co_await t.async_wait(nothrow);
        }
        bool upgrade = req.find(http::field::upgrade) != req.end() &&
                       beast::iequals(req[http::field::upgrade], "websocket");
        if (upgrade) {
            http::response<http::empty_body> res{http::status::switching_protocols, 11};
            res.set(http::field::upgrade, "websocket");
            res.set(http::field::connection, "Upgrade");
            auto [wec, wn] = co_await http::async_write(s, res, nothrow);
            if (!wec) co_await echo_tunnel(s, buffer);
            co_return;
        }

        auto status = static_cast<unsigned>(query_number(query, "status", 200));
        bool keep = req.keep_alive() && !query_number(query, "close") && !query_number(query, "until_close") &&
                    !query_number(query, "truncate");
        if (query.find("bytes=") != std::string_view::npos) {
            std::uint64_t total = query_number(query, "bytes");
            http::response<http::buffer_body> res{static_cast<http::status>(status), 11};
            res.set(http::field::content_type, "application/octet-stream");
            if (query_number(query, "chunked")) {
                res.chunked(true);
            } else if (!query_number(query, "until_close")) {
                res.content_length(total);
            }
            res.keep_alive(keep);
            std::uint64_t send_only = query_number(query, "truncate") ? total / 2 : total;
            bool ok = co_await stream_body(s, res, total, send_only);
            if (!ok || !keep) {
                boost::system::error_code ignored;
                s.shutdown(tcp::socket::shutdown_both, ignored);
                co_return;
            }
            continue;
        }

        std::string out = "{\"method\":";
        json_string(out, req.method_string());
        out += ",\"path\":";
        json_string(out, path);
        out += ",\"query\":";
        json_string(out, query);
        out += ",\"headers\":{";
        bool first = true;
        for (const auto& f : req) {
            if (!first) out += ',';
            first = false;
            json_string(out, f.name_string());
            out += ':';
            json_string(out, f.value());
        }
        out += "},\"body_bytes\":" + std::to_string(body_bytes) + ",\"body\":";
        json_string(out, body);
        out += "}\n";

        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::content_type, "application/json");
        if (query_number(query, "cors")) {
            res.set(http::field::access_control_allow_origin, "*");
            res.set(http::field::vary, "Accept-Encoding");
        }
        if (query_number(query, "tao")) res.set("Timing-Allow-Origin", "*");
        res.body() = std::move(out);
        res.prepare_payload();
        res.keep_alive(keep);
        auto [wec, wn] = co_await http::async_write(s, res, nothrow);
        if (wec || !keep) {
            boost::system::error_code ignored;
            s.shutdown(tcp::socket::shutdown_both, ignored);
            co_return;
        }
    }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (ec) co_return;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 9000;
    unsigned threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view a = argv[i];
        if (a == "--listen") host = argv[i + 1];
        else if (a == "--port") port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
        else if (a == "--threads") threads = static_cast<unsigned>(std::max(1, std::stoi(argv[i + 1])));
        else {
            std::cerr << "usage: authgate-demo-backend [--listen HOST] [--port N] [--threads N]\n";
            return 2;
        }
    }
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address(host), port));
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) { ioc.stop(); });
    std::cout << "listening on " << host << ":" << acceptor.local_endpoint().port() << std::endl;
    asio::co_spawn(ioc, accept_loop(acceptor), asio::detached);
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    return 0;
}
