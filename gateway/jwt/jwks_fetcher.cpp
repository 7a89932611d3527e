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
#include "jwt/key_cache_file.h"
#include "jwt/oidc_discovery.h"

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
    HttpUrl url;          // the jwks_url, or a discovery provider's document URL
    bool url_ok = false;  // the loader refuses a URL that is not; a hand-built config may not
    std::string jwks_uri;       // discovery: from the last good document ("" = none yet)
    bool cache_tried = false;   // the key cache file is read at most once, at start
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
    asio::awaitable<std::string> exchange(Stream& stream, const HttpUrl& url, std::string& body,
                                          std::size_t body_limit) {
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
        parser.body_limit(body_limit);
        beast::get_lowest_layer(stream).expires_after(options.io_timeout);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return "read: " + ec.message();
        const auto& res = parser.get();
        if (res.result() != http::status::ok) co_return "HTTP status " + std::to_string(res.result_int());
        body = res.body();
        co_return std::string();
    }

    asio::awaitable<std::string> fetch(const HttpUrl& url, std::string& body, std::size_t body_limit) {
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
            std::string result = co_await exchange(stream, url, body, body_limit);
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
        std::string result = co_await exchange(stream, url, body, body_limit);
        co_return result;
    }

    // A discovery provider's document, then the jwks_uri it names. On success `jwks_uri`
    // is that URI; on failure the error says which step failed and why.
    asio::awaitable<std::string> discover_and_fetch(Source& s, std::string& body, std::string& jwks_uri) {
        Provider& p = *s.provider;
        std::string doc;
        std::string error = co_await fetch(s.url, doc, std::min(options.body_limit, kMaxDiscoveryBytes));
        DiscoveryResult found;
        if (error.empty()) {
            // The loader allows discovery with exactly one issuer: the one the document must name.
            const auto& issuers = p.config().issuers;
            found = parse_discovery(doc, issuers.empty() ? std::string_view() : std::string_view(issuers.front()),
                                    s.url.tls);
            if (!found.ok) error = found.error;
        }
        if (!error.empty()) {
            p.key_store().record_discovery(false);
            co_return "discovery document: " + error;
        }
        p.key_store().record_discovery(true, found.jwks_uri);
        if (found.jwks_uri != s.jwks_uri) {
            if (s.jwks_uri.empty())
                spdlog::info("jwt provider {}: discovery names jwks_uri {}", p.name(), found.jwks_uri);
            else
                spdlog::info("jwt provider {}: jwks_uri moved from {} to {}", p.name(), s.jwks_uri, found.jwks_uri);
            s.jwks_uri = found.jwks_uri;
        }
        std::string why;
        const auto url = config::syntax::parse_http_url(found.jwks_uri, why);  // parse_discovery checked it
        if (!url) co_return "jwks_uri " + found.jwks_uri + ": " + why;
        error = co_await fetch(*url, body, options.body_limit);
        if (!error.empty()) co_return "jwks_uri " + found.jwks_uri + ": " + error;
        jwks_uri = found.jwks_uri;
        co_return std::string();
    }

    // One fetch of the provider's key set, by its jwks_url or through discovery.
    asio::awaitable<std::string> fetch_key_set(Source& s, std::string& body, std::string& jwks_uri) {
        if (!s.url_ok) co_return std::string("unsupported URL");
        if (s.provider->uses_discovery()) {
            std::string error = co_await discover_and_fetch(s, body, jwks_uri);
            co_return error;
        }
        jwks_uri = s.provider->remote_source();
        std::string error = co_await fetch(s.url, body, options.body_limit);
        co_return error;
    }

    // After a good fetch: the set on disk for the next start. Never fatal: a failed write
    // only means the next start without the issuer answers 503.
    static void write_cache(const Provider& p, const std::string& jwks_uri, const std::string& body) {
        const auto& path = p.config().keys.jwks_cache_file;
        if (!path) return;
        const auto doc = format_key_cache(p.remote_source(), jwks_uri, std::chrono::system_clock::now(), body);
        const std::string error = doc ? write_file_atomically(*path, *doc) : "the fetched set is not JSON";
        if (!error.empty()) spdlog::warn("jwt provider {}: cannot write key cache file {}: {}", p.name(), *path, error);
    }

    // The first fetch failed and there are no keys: the cache file's, when it can be
    // trusted (its source, age and keys check out), rather than answering 503.
    static void load_cache(Source& s) {
        Provider& p = *s.provider;
        const auto& path = p.config().keys.jwks_cache_file;
        if (!path || s.cache_tried || p.ever_fetched()) return;
        s.cache_tried = true;
        auto read = read_key_cache(*path, p.remote_source(), p.config().keys.max_stale, std::chrono::system_clock::now());
        if (!read.keys) {
            if (!read.error.empty())
                spdlog::warn("jwt provider {}: ignoring key cache file {}: {}", p.name(), *path, read.error);
            return;
        }
        for (const auto& skip : read.keys->skipped) spdlog::info("jwks cache {}: {}", *path, skip);
        const auto at = std::chrono::system_clock::to_time_t(read.keys->fetched_at);
        spdlog::warn("jwt provider {}: serving {} keys from key cache file {} (fetched at unix time {} from {})",
                     p.name(), read.keys->keys.size(), *path, at, read.keys->jwks_uri);
        p.key_store().publish_cached(std::move(read.keys->keys), read.keys->fetched_at);
    }

    asio::awaitable<void> run(Source& s) {
        Provider& p = *s.provider;
        for (;;) {
            p.key_store().take_refetch_request();  // this fetch answers every request made so far
            std::string body;
            std::string jwks_uri;
            // Plain statements around co_await: GCC 12 miscompiles co_await inside ?: and
            // other compound expressions holding temporaries.
            std::string error = co_await fetch_key_set(s, body, jwks_uri);
            if (error.empty()) {
                JwksParseResult parsed = parse_jwks(body);
                if (!parsed.ok) {
                    error = parsed.error;
                } else if (parsed.keys.empty()) {
                    error = "no usable signing key in the set";  // keep the last good set
                } else {
                    for (const auto& skip : parsed.skipped) spdlog::info("jwks {}: {}", jwks_uri, skip);
                    spdlog::debug("jwks {}: {} keys", jwks_uri, parsed.keys.size());
                    p.key_store().publish_fetched(std::move(parsed.keys));
                    write_cache(p, jwks_uri, body);
                }
            }
            const bool ok = error.empty();
            if (!ok) {
                spdlog::warn("jwt provider {}: JWKS fetch from {} failed: {}{}", p.name(), p.remote_source(), error,
                             p.ever_fetched() ? " (keeping the last good key set)" : " (no keys yet)");
                load_cache(s);
            }
            p.key_store().record_fetch(ok, error);
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
        if (!p->has_remote_keys()) continue;
        auto s = std::make_unique<Source>(p, impl_->ioc);
        // The loader's own parse of the URL: what --check accepted is what is fetched.
        std::string why;
        if (auto url = config::syntax::parse_http_url(p->remote_source(), why)) {
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
