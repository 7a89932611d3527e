// The only translation unit with Beast/Asio in jwt/: they are heavy to compile, and the
// request path must not depend on them.
#include "jwt/jwks_fetcher.h"

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include "config/syntax.h"

namespace authgate::jwt {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

using config::syntax::HttpUrl;

struct Source {
    std::shared_ptr<Provider> provider;
    HttpUrl url;
    bool url_ok = false;  // the loader refuses a URL that is not; a hand-built config may not
    asio::steady_timer timer;
    Source(std::shared_ptr<Provider> p, asio::io_context& ioc) : provider(std::move(p)), timer(ioc) {}
};

std::string host_header(const HttpUrl& u) {
    std::string h = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    if (u.port != (u.tls ? "443" : "80")) h += ":" + u.port;
    return h;
}

}  // namespace

struct JwksFetcher::Impl {
    Options options;
    asio::ssl::context ssl{asio::ssl::context::tls_client};  // outlives the io_context's streams
    asio::io_context ioc{1};
    std::vector<std::unique_ptr<Source>> sources;  // destroyed before ioc (timers need its services)
    std::vector<std::shared_ptr<RefetchSignal>> signals;
    std::thread thread;
    std::mutex mu;
    bool started = false;
    bool stopped = false;

    // Resolve + connect (+ TLS handshake) + request + response, each step under its own
    // deadline. Returns an empty error string on success.
    template <typename Stream>
    asio::awaitable<std::string> exchange(Stream& stream, const HttpUrl& url, std::string& body) {
        error_code ec;
        http::request<http::empty_body> req{http::verb::get, url.target, 11};
        req.set(http::field::host, host_header(url));
        req.set(http::field::user_agent, "authgate/" AUTHGATE_VERSION);
        req.set(http::field::accept, "application/json");
        req.set(http::field::connection, "close");
        beast::get_lowest_layer(stream).expires_after(options.io_timeout);
        co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return "write: " + ec.message();

        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.header_limit(16 * 1024);
        parser.body_limit(options.body_limit);
        beast::get_lowest_layer(stream).expires_after(options.io_timeout);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return "read: " + ec.message();
        const auto& res = parser.get();
        if (res.result() != http::status::ok) co_return "HTTP status " + std::to_string(res.result_int());
        body = res.body();
        co_return std::string();
    }

    asio::awaitable<std::string> fetch(const HttpUrl& url, std::string& body) {
        auto ex = co_await asio::this_coro::executor;
        error_code ec;
        // The resolver has no deadline of its own: a timer cancels it. Shared ownership
        // because the timer's handler may run after this frame moved on.
        auto resolver = std::make_shared<tcp::resolver>(ex);
        asio::steady_timer deadline(ex);
        deadline.expires_after(options.io_timeout);
        deadline.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](error_code wec) {
            if (wec) return;
            if (auto r = weak.lock()) r->cancel();
        });
        const auto endpoints =
            co_await resolver->async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
        deadline.cancel();
        if (ec) co_return "resolve " + url.host + ": " + ec.message();

        if (!url.tls) {
            beast::tcp_stream stream(ex);
            stream.expires_after(options.io_timeout);
            co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return "connect: " + ec.message();
            std::string result = co_await exchange(stream, url, body);
            co_return result;
        }
        beast::ssl_stream<beast::tcp_stream> stream(ex, ssl);
        // SNI for host names only: RFC 6066 forbids IP literals there, and strict servers
        // reject them. host_name_verification checks an IP against the certificate's IP SANs.
        error_code ip_ec;
        (void)asio::ip::make_address(url.host, ip_ec);
        if (ip_ec && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
            ERR_clear_error();
            co_return std::string("TLS: cannot set SNI");
        }
        stream.set_verify_mode(asio::ssl::verify_peer);
        stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
        beast::get_lowest_layer(stream).expires_after(options.io_timeout);
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return "connect: " + ec.message();
        beast::get_lowest_layer(stream).expires_after(options.io_timeout);
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            ERR_clear_error();
            co_return "TLS handshake: " + ec.message();
        }
        std::string result = co_await exchange(stream, url, body);
        co_return result;
    }

    asio::awaitable<void> run(Source& s) {
        Provider& p = *s.provider;
        for (;;) {
            p.key_store().take_refetch_request();  // this fetch answers every request made so far
            std::string body;
            // Plain statements around co_await: GCC 12 miscompiles co_await inside ?: and
            // other compound expressions holding temporaries.
            std::string error = "unsupported URL";
            if (s.url_ok) error = co_await fetch(s.url, body);
            if (error.empty()) {
                JwksParseResult parsed = parse_jwks(body);
                if (!parsed.ok) {
                    error = parsed.error;
                } else if (parsed.keys.empty()) {
                    error = "no usable signing key in the set";  // keep the last good set
                } else {
                    for (const auto& skip : parsed.skipped) spdlog::info("jwks {}: {}", p.jwks_url(), skip);
                    spdlog::debug("jwks {}: {} keys", p.jwks_url(), parsed.keys.size());
                    p.key_store().publish_fetched(std::move(parsed.keys));
                }
            }
            const bool ok = error.empty();
            if (!ok) {
                spdlog::warn("jwt provider {}: JWKS fetch from {} failed: {}{}", p.name(), p.jwks_url(), error,
                             p.ever_fetched() ? " (keeping the last good key set)" : " (no keys yet)");
            }
            p.key_store().record_fetch(ok);
            {
                std::lock_guard lock(mu);
                if (stopped) co_return;
            }
            if (p.key_store().refetch_pending()) continue;  // an unknown kid showed up during the fetch
            auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(p.jwks_refresh());
            if (!ok) wait = std::min(wait, options.retry_after_failure);
            s.timer.expires_after(wait);
            error_code ec;
            co_await s.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // cancelled by a kid miss
        }
    }
};

JwksFetcher::JwksFetcher(std::vector<std::shared_ptr<Provider>> providers, Options options)
    : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
    impl_->ssl.set_default_verify_paths();
    impl_->ssl.set_verify_mode(asio::ssl::verify_peer);
    for (auto& p : providers) {
        if (!p->has_jwks_url()) continue;
        auto s = std::make_unique<Source>(p, impl_->ioc);
        // The loader's own parse of jwks_url: what --check accepted is what is fetched.
        std::string why;
        if (auto url = config::syntax::parse_http_url(p->jwks_url(), why)) {
            s->url = std::move(*url);
            s->url_ok = true;
        }
        impl_->sources.push_back(std::move(s));
        const auto& signal = p->key_store().signal();
        if (signal && std::find(impl_->signals.begin(), impl_->signals.end(), signal) == impl_->signals.end())
            impl_->signals.push_back(signal);
    }
}

JwksFetcher::~JwksFetcher() { stop(); }

void JwksFetcher::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->started || impl_->stopped) return;
    impl_->started = true;
    Impl* impl = impl_.get();
    for (auto& s : impl->sources) {
        asio::co_spawn(impl->ioc, impl->run(*s), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("JWKS fetcher stopped: {}", ex.what());
            }
        });
    }
    // A kid miss on a worker thread becomes a timer cancel on the fetcher thread.
    for (auto& sig : impl->signals) {
        sig->set_handler([impl] {
            asio::post(impl->ioc, [impl] {
                for (auto& s : impl->sources) {
                    if (s->provider->key_store().refetch_pending()) s->timer.cancel();
                }
            });
        });
    }
    impl->thread = std::thread([impl] {
        ::pthread_setname_np(::pthread_self(), kJwksThreadName);  // ps -L, top -H, tests
        impl->ioc.run();
    });
}

void JwksFetcher::stop() {
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopped) return;
        impl_->stopped = true;
    }
    // After set_handler returns no worker is inside the handler, so nothing posts to ioc.
    for (auto& sig : impl_->signals) sig->set_handler(nullptr);
    impl_->ioc.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace authgate::jwt
