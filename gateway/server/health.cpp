#include "server/health.h"

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "cli/command_line.h"
#include "config/dump.h"
#include "config/loader.h"

namespace authgate::server {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::string_view kUsage = R"(Usage: authgate health URL [--timeout 2s]

GETs URL, an http:// URL such as the admin listener's http://127.0.0.1:9901/readyz, and
exits 0 when it answers 2xx: a container HEALTHCHECK without curl in the image.

  --timeout D   the whole check (resolve, connect, request, response) must finish within
                D (default 2s; e.g. 500ms, 5s)

Exit status: 0 the URL answered 2xx (the status is printed); 1 it answered another status,
refused the connection or did not answer in time (printed on stderr); 2 usage error,
including a malformed URL or https (the admin listener is plain http).
)";
constexpr cli::Command kCommand{"authgate health", kUsage};

struct Target {
    std::string host;  // to resolve or connect to, IPv6 without brackets
    std::string port;
    std::string host_header;
    std::string target;  // origin-form request target
};

// nullopt with `error` set when the URL cannot be probed.
std::optional<Target> parse_url(std::string_view text, std::string& error) {
    const auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) {
        // Boost.URL's own reason ("mismatch", "leftover input") means little to a reader.
        error = "malformed URL '" + std::string(text) + "' (expected http://HOST[:PORT]/PATH)";
        return std::nullopt;
    }
    const auto& url = *parsed;
    if (url.scheme_id() == boost::urls::scheme::https) {
        error = "https is not supported: the admin listener serves plain http";
        return std::nullopt;
    }
    if (url.scheme_id() != boost::urls::scheme::http) {
        error = "only http:// URLs are supported, got '" + std::string(text) + "'";
        return std::nullopt;
    }
    if (url.has_userinfo()) {
        error = "a URL with credentials is not supported";
        return std::nullopt;
    }
    Target t;
    t.host = url.host_address();
    if (t.host.empty()) {
        error = "no host in '" + std::string(text) + "'";
        return std::nullopt;
    }
    // Boost.URL accepts any digits as a port ("99999"): the range is checked here.
    const auto port = url.port();
    unsigned long number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (url.has_port() && (ec != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535)) {
        error = "invalid port in '" + std::string(text) + "'";
        return std::nullopt;
    }
    const auto host_and_port = url.encoded_host_and_port();
    const auto target = url.encoded_target();
    t.port = url.has_port() ? std::string(port.data(), port.size()) : "80";
    t.host_header.assign(host_and_port.data(), host_and_port.size());
    t.target.assign(target.data(), target.size());
    if (t.target.empty() || t.target.front() != '/') t.target.insert(0, "/");
    return t;
}

struct Outcome {
    std::string error;  // empty: `status` holds the answer
    unsigned status = 0;
    std::string reason;
};

// Every step shares one deadline: the stream's expiry for connect, write and read, and a
// timer that cancels the resolver, which has no deadline of its own.
asio::awaitable<Outcome> probe(const Target& t, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto failed = [&](std::string step, error_code ec) {
        const bool late = ec == beast::error::timeout || ec == asio::error::operation_aborted;
        Outcome o;
        o.error = step + ": " + (late ? "no answer within " + config::format_duration(timeout) : ec.message());
        return o;
    };
    auto ex = co_await asio::this_coro::executor;
    error_code ec;
    auto resolver = std::make_shared<tcp::resolver>(ex);
    asio::steady_timer timer(ex);
    timer.expires_at(deadline);
    timer.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](error_code wec) {
        if (wec) return;
        if (auto r = weak.lock()) r->cancel();
    });
    const auto endpoints =
        co_await resolver->async_resolve(t.host, t.port, asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (ec) co_return failed("resolving " + t.host, ec);

    beast::tcp_stream stream(ex);
    stream.expires_at(deadline);
    co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failed("connecting to " + t.host_header, ec);

    http::request<http::empty_body> req{http::verb::get, t.target, 11};
    req.set(http::field::host, t.host_header);
    req.set(http::field::user_agent, "authgate-health/" AUTHGATE_VERSION);
    req.set(http::field::connection, "close");
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failed("sending the request", ec);

    // Only the status matters; the body is read (bounded) so the connection ends cleanly.
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec && !parser.is_header_done()) co_return failed("reading the response", ec);
    const auto& res = parser.get();
    co_return Outcome{{}, res.result_int(), std::string(res.reason())};
}

}  // namespace

int health_command(int argc, char** argv, std::ostream& out, std::ostream& err) {
    namespace po = cli::po;
    po::options_description options;
    options.add_options()
        ("help,h", po::bool_switch())
        ("timeout", po::value<std::string>());
    const auto parsed = cli::parse(argc, argv, options, kCommand, err, /*max_words=*/1);
    if (!parsed) return cli::kUsage;
    if (parsed->values["help"].as<bool>()) {
        out << kUsage;
        return cli::kSuccess;
    }
    if (parsed->words.empty()) return cli::usage_error(err, kCommand, "no URL given");
    std::chrono::milliseconds timeout = std::chrono::seconds(2);
    if (parsed->has("timeout")) {
        const std::string text = parsed->text("timeout");
        const auto d = config::parse_duration(text);
        // Capped: a health check that waits longer is not one, and steady_clock's nanoseconds
        // would overflow past ~292 years.
        if (!d || d->count() == 0 || *d > std::chrono::hours(1))
            return cli::usage_error(err, kCommand,
                                    "--timeout takes a duration above 0 and at most 1h, such as 2s or 500ms, got '" +
                                        text + "'");
        timeout = *d;
    }
    const std::string& url = parsed->words.front();
    std::string error;
    const auto target = parse_url(url, error);
    if (!target) return cli::usage_error(err, kCommand, error);

    asio::io_context ioc;
    std::optional<Outcome> outcome;
    asio::co_spawn(ioc, probe(*target, timeout),
                   [&](std::exception_ptr e, Outcome o) {
                       if (e) {
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& x) {
                               o.error = x.what();
                           }
                       }
                       outcome = std::move(o);
                   });
    ioc.run();
    if (!outcome->error.empty()) {
        err << "authgate health: " << url << ": " << outcome->error << "\n";
        return cli::kFailure;
    }
    const std::string status = std::to_string(outcome->status) + " " + outcome->reason;
    if (outcome->status / 100 == 2) {
        out << url << ": " << status << "\n";
        return cli::kSuccess;
    }
    err << "authgate health: " << url << ": " << status << "\n";
    return cli::kFailure;
}

}  // namespace authgate::server
