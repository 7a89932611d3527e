#include "server/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "jwt/jwks_fetcher.h"
#include "jwt/provider.h"
#include "jwt/token_cache.h"
#include "server/admin_server.h"
#include "server/cpu_quota.h"
#include "server/worker.h"

namespace authgate::server {
namespace {
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

std::string utc_time(std::chrono::system_clock::time_point t) {
    const std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// A provider serving its key cache file's keys is ready (it verifies tokens), but an
// operator should know its issuer is not answering. "" for any other provider.
std::string cached_keys_note(const jwt::Provider& p, const char* separator) {
    const auto st = p.jwks_stats();
    if (st.source != jwt::KeySource::cache_file) return {};
    return separator + ("jwt provider " + p.name() + ": serving cached keys fetched " +
                        utc_time(st.cached_fetched_at) + "; issuer unreachable");
}

}  // namespace

struct Server::Impl {
    explicit Impl(std::size_t workers) : metrics(workers) {}

    observe::SnapshotSlots resolve_slots(const proxy::Snapshot& snap) {
        std::vector<observe::RouteSeries> routes;
        std::vector<std::string> upstreams;
        for (const auto& r : snap.routes) {
            // The series a route can have, exported at 0 from the start.
            std::uint8_t flags = 0;
            if (r.auth) {
                flags |= r.cfg->auth.mode == config::RouteAuth::Mode::report_only ? observe::RouteSeries::kReportOnly
                                                                                   : observe::RouteSeries::kAuth;
            }
            if (r.cors) flags |= observe::RouteSeries::kCors;
            routes.push_back({r.cfg->name, flags});
        }
        for (const auto& u : snap.upstreams) upstreams.push_back(u.cfg->name);
        std::vector<std::string> providers;
        if (snap.providers)
            for (const auto& p : snap.providers->providers()) providers.push_back(p->name());
        return metrics.resolve(snap.id, routes, upstreams, providers);
    }
    std::shared_ptr<const proxy::Snapshot> current() const {
        std::lock_guard lock(snapshot_mu);
        return snapshot;
    }
    AdminServer::Readiness readiness() const;
    std::string render_metrics() const;

    mutable std::mutex snapshot_mu;  // the main thread swaps it, the admin thread reads it
    std::shared_ptr<const proxy::Snapshot> snapshot;
    observe::Metrics metrics;
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> threads;
    std::vector<std::uint16_t> ports;
    std::atomic<std::size_t> active{0};
    std::atomic<bool> draining{false};
    std::unique_ptr<AdminServer> admin;

    // The JWKS fetcher of the running snapshot's providers: owned here, not by the
    // snapshot, so a reload stops the old one at once (keep-alive connections may hold the
    // old snapshot for long) and only the thread that calls start/reload/wait ever joins
    // a fetcher thread, never a worker dropping the last reference to a snapshot.
    std::mutex fetcher_mu;  // start/reload/wait; taken before snapshot_mu
    bool started = false;
    std::unique_ptr<jwt::JwksFetcher> fetcher;
    const jwt::ProviderSet* fetcher_for = nullptr;  // whose providers `fetcher` feeds

    // fetcher_mu held. Starts fetching for `snap` unless its providers are already fed.
    void start_fetcher(const proxy::Snapshot& snap) {
        if (!snap.providers || snap.providers.get() == fetcher_for) return;
        fetcher = snap.providers->make_fetcher();
        fetcher_for = snap.providers.get();
        if (fetcher) fetcher->start();
    }
    // fetcher_mu held. Stops (joins) and destroys the fetcher on the calling thread; the
    // providers it fed keep the keys they have.
    void stop_fetcher() {
        if (fetcher) fetcher->stop();
        fetcher.reset();
        fetcher_for = nullptr;
    }
};

AdminServer::Readiness Server::Impl::readiness() const {
    if (draining.load()) return {false, "draining after a stop signal", {}};
    auto snap = current();
    std::string missing;
    std::string cached;  // ready, but worth saying: keys from a cache file, not the issuer
    if (snap->providers) {
        for (const auto& p : snap->providers->providers()) {
            if (p->has_remote_keys() && !p->ever_fetched())
                missing += (missing.empty() ? "" : ", ") + ("'" + p->name() + "'");
            else if (p->has_remote_keys())
                cached += cached_keys_note(*p, cached.empty() ? "" : "; ");
        }
    }
    if (!missing.empty())
        return {false, "jwt provider(s) " + missing + " have not obtained keys from their jwks_url yet", {}};
    return {true, {}, cached};
}

std::string Server::Impl::render_metrics() const {
    observe::ScrapeState state;
    state.connections_active = active.load(std::memory_order_relaxed);
    state.draining = draining.load();
    auto snap = current();
    if (snap->providers) {
        for (const auto& p : snap->providers->providers()) {
            observe::ProviderState ps;
            ps.name = p->name();
            ps.jwks_url = p->has_remote_keys();
            ps.has_keys = p->ever_fetched();
            ps.discovery = p->uses_discovery();
            if (ps.jwks_url) {
                auto st = p->jwks_stats();
                ps.fetch_successes = st.successes;
                ps.fetch_failures = st.failures;
                ps.key_source = std::string(jwt::key_source_name(st.source));
                ps.discovery_successes = st.discovery_successes;
                ps.discovery_failures = st.discovery_failures;
                if (st.last_success.time_since_epoch().count() > 0)
                    ps.last_success = std::chrono::duration<double>(st.last_success.time_since_epoch()).count();
            }
            if (auto keys = p->key_set()) ps.keys = keys->keys.size();
            state.providers.push_back(std::move(ps));
        }
    }
    return metrics.render(state);
}

Server::Server(std::shared_ptr<const proxy::Snapshot> snapshot, ServerOptions options) {
    const auto& cfg = snapshot->cfg;
    // 0: the CPUs this process may use (affinity, container CPU limit), not the node's.
    unsigned n = cfg.server.workers ? cfg.server.workers : available_cpus();
    impl_ = std::make_unique<Impl>(n);
    impl_->snapshot = snapshot;
    impl_->metrics.config_loaded(std::chrono::system_clock::now());
    const auto slots = impl_->resolve_slots(*snapshot);
    for (unsigned i = 0; i < n; ++i)
        impl_->workers.push_back(
            std::make_unique<Worker>(i, snapshot, slots, options, impl_->active, impl_->metrics));
    // Every worker gets its own acceptor on each address (SO_REUSEPORT): the kernel spreads
    // connections and no accept lock is shared. Port 0 resolves once, on the first bind.
    for (const auto& listen : cfg.server.listen) {
        boost::system::error_code ec;
        // The loader made this same test (config::syntax::parse_listen): only a config built
        // by hand can still fail it.
        auto addr = asio::ip::make_address(listen.host, ec);
        if (ec) throw std::runtime_error("listen address '" + listen.host + "' is not an IP address");
        tcp::endpoint ep(addr, listen.port);
        for (auto& w : impl_->workers) {
            tcp::acceptor a(w->ioc);
            a.open(ep.protocol(), ec);
            if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
            if (!ec) a.set_option(reuse_port(true), ec);
            if (!ec) a.bind(ep, ec);
            if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
            if (ec)
                throw std::runtime_error("cannot listen on " + listen.host + ":" + std::to_string(ep.port()) + ": " +
                                         ec.message());
            ep = a.local_endpoint();
            w->acceptors.push_back(std::move(a));
        }
        impl_->ports.push_back(ep.port());
    }
    if (cfg.admin) {
        AdminServer::Options ao;
        ao.header_timeout = cfg.server.timeouts.header;
        ao.idle_timeout = cfg.server.timeouts.idle;
        Impl* impl = impl_.get();
        impl_->admin = std::make_unique<AdminServer>(
            cfg.admin->listen,
            AdminServer::Handlers{[impl] { return impl->readiness(); }, [impl] { return impl->render_metrics(); }}, ao);
    }
}

Server::~Server() {
    shutdown();
    wait();
}

void Server::start() {
    {
        std::lock_guard lock(impl_->fetcher_mu);
        impl_->started = true;
        impl_->start_fetcher(*impl_->current());
    }
    if (impl_->admin) impl_->admin->start();
    for (auto& w : impl_->workers) {
        Worker* wp = w.get();
        impl_->threads.emplace_back([wp] {
            wp->start_accepting();
            wp->ioc.run();
            wp->access_log.flush();
        });
    }
}

std::vector<std::uint16_t> Server::ports() const { return impl_->ports; }

void Server::reload(std::shared_ptr<const proxy::Snapshot> snapshot) {
    std::lock_guard fetcher_lock(impl_->fetcher_mu);  // held to the end: one reload at a time
    const auto running = impl_->current();
    if (snapshot->providers != running->providers) {
        // The old providers stop fetching now, not when the last request under them ends;
        // they keep their keys for the requests still running under the old snapshot.
        // Stopped first, so what the old fetcher last published is what carries over.
        impl_->stop_fetcher();
        // An unchanged jwks_url keeps its last fetched keys: a reload must not turn its
        // routes (and /readyz) into 503s until the new fetcher's first fetch lands.
        if (snapshot->providers && running->providers) snapshot->providers->carry_over_keys(*running->providers);
        if (impl_->started) impl_->start_fetcher(*snapshot);
    }
    {
        // Listeners are bound once, at start; say so rather than silently keep the old one.
        const auto& was = impl_->current()->cfg.admin;
        const auto& now = snapshot->cfg.admin;
        if (was.has_value() != now.has_value() ||
            (was && (was->listen.host != now->listen.host || was->listen.port != now->listen.port)))
            spdlog::warn("admin.listen changed: it takes effect at the next restart");
    }
    // Slots and their cells exist before any worker can count against them.
    const auto slots = impl_->resolve_slots(*snapshot);
    {
        std::lock_guard lock(impl_->snapshot_mu);
        impl_->snapshot = snapshot;
    }
    for (auto& w : impl_->workers) {
        Worker* wp = w.get();
        asio::post(wp->ioc, [wp, snapshot, slots] { wp->set_snapshot(snapshot, slots); });
    }
    impl_->metrics.reloads_ok.add();
    impl_->metrics.config_loaded(std::chrono::system_clock::now());
}

void Server::reload_failed() { impl_->metrics.reloads_failed.add(); }

std::optional<std::uint16_t> Server::admin_port() const {
    if (!impl_->admin) return std::nullopt;
    return impl_->admin->port();
}

void Server::stop() { drain_after(impl_->current()->cfg.server.timeouts.drain_delay); }

// A zero delay drains at once, and overtakes a stop() still in its delay.
void Server::shutdown() { drain_after(config::Duration::zero()); }

void Server::drain_after(config::Duration delay) {
    impl_->draining.store(true);  // /readyz answers 503 from now on
    for (auto& w : impl_->workers) {
        Worker* wp = w.get();
        asio::post(wp->ioc, [wp, delay] { wp->begin_shutdown_after(delay); });
    }
}

void Server::wait() {
    for (auto& t : impl_->threads) {
        if (t.joinable()) t.join();
    }
    impl_->threads.clear();
    // The admin listener outlives the drain so /readyz can say so.
    if (impl_->admin) impl_->admin->stop();
    std::lock_guard lock(impl_->fetcher_mu);
    impl_->started = false;  // a reload after this installs keys, but fetches nothing
    impl_->stop_fetcher();
}

std::size_t Server::active_connections() const { return impl_->active.load(); }

}  // namespace authgate::server
