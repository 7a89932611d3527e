// UpstreamPool against real loopback listeners: connect, reuse, idle expiry, max idle,
// round robin skipping a refusing endpoint.
#include "proxy/upstream_pool.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace authgate::proxy {
namespace {
using namespace std::chrono_literals;

class PoolTest : public ::testing::Test {
protected:
    asio::io_context ioc;
    tcp::acceptor live{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    std::vector<tcp::socket> accepted;

    void SetUp() override { accept_forever(); }
    void accept_forever() {
        live.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec) return;
            accepted.push_back(std::move(s));
            accept_forever();
        });
    }
    static std::uint16_t dead_port() {
        asio::io_context tmp;
        tcp::acceptor a(tmp, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        return a.local_endpoint().port();  // closed when `a` goes out of scope
    }
    std::shared_ptr<const Snapshot> snapshot(std::vector<std::uint16_t> ports, std::uint64_t max_idle = 64,
                                             config::Duration idle = 30s) {
        config::Config cfg;
        cfg.file = "pool.yaml";
        config::Upstream up;
        up.name = "u";
        for (auto p : ports) up.endpoints.push_back({"http", "127.0.0.1", p});
        up.pool_max_idle = max_idle;
        up.pool_idle_timeout = idle;
        cfg.upstreams.push_back(up);
        config::Diagnostics diag;
        auto s = Snapshot::compile(cfg, diag);
        EXPECT_TRUE(diag.ok());
        return s;
    }
    // Runs one acquire to completion on the test's io_context.
    std::unique_ptr<UpstreamConn> acquire(UpstreamPool& pool, const Snapshot& snap, UpstreamError& err,
                                          bool fresh = false) {
        std::unique_ptr<UpstreamConn> out;
        bool done = false;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                out = co_await pool.acquire(snap, 0, fresh, err);
                done = true;
            },
            asio::detached);
        auto deadline = Clock::now() + 5s;
        while (!done && Clock::now() < deadline) ioc.run_one_for(100ms);
        EXPECT_TRUE(done);
        return out;
    }
};

TEST_F(PoolTest, ConnectsThenReusesReleasedConnection) {
    auto snap = snapshot({live.local_endpoint().port()});
    UpstreamPool pool(ioc.get_executor());
    UpstreamError err;
    auto c = acquire(pool, *snap, err);
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->reused);
    auto* raw = c.get();
    pool.release(*snap, std::move(c));
    EXPECT_EQ(pool.idle_connections(), 1u);
    auto again = acquire(pool, *snap, err);
    ASSERT_TRUE(again);
    EXPECT_EQ(again.get(), raw);
    EXPECT_TRUE(again->reused);
    EXPECT_EQ(pool.idle_connections(), 0u);
    // fresh=true never takes a pooled connection
    pool.release(*snap, std::move(again));
    auto fresh = acquire(pool, *snap, err, true);
    ASSERT_TRUE(fresh);
    EXPECT_FALSE(fresh->reused);
}

TEST_F(PoolTest, IdleConnectionsExpire) {
    auto snap = snapshot({live.local_endpoint().port()}, 64, 1s);
    UpstreamPool pool(ioc.get_executor());
    UpstreamError err;
    pool.release(*snap, acquire(pool, *snap, err));
    pool.sweep(Clock::now());
    EXPECT_EQ(pool.idle_connections(), 1u);
    pool.sweep(Clock::now() + 2s);
    EXPECT_EQ(pool.idle_connections(), 0u);
}

TEST_F(PoolTest, KeepsAtMostMaxIdle) {
    auto snap = snapshot({live.local_endpoint().port()}, 2);
    UpstreamPool pool(ioc.get_executor());
    UpstreamError err;
    std::vector<std::unique_ptr<UpstreamConn>> conns;
    for (int i = 0; i < 4; ++i) conns.push_back(acquire(pool, *snap, err, true));
    for (auto& c : conns) pool.release(*snap, std::move(c));
    EXPECT_EQ(pool.idle_connections(), 2u);
}

TEST_F(PoolTest, PeerClosedIdleConnectionIsNotReused) {
    auto snap = snapshot({live.local_endpoint().port()});
    UpstreamPool pool(ioc.get_executor());
    UpstreamError err;
    pool.release(*snap, acquire(pool, *snap, err));
    // The backend closes its side; once the connection is old enough to be checked, the
    // pool notices and connects anew.
    for (auto deadline = Clock::now() + 2s; accepted.empty() && Clock::now() < deadline;) ioc.run_one_for(50ms);
    ASSERT_FALSE(accepted.empty());
    accepted.front().close();
    auto start = Clock::now();
    while (Clock::now() - start < 700ms) ioc.run_one_for(50ms);  // age the idle connection past the check threshold
    auto next = acquire(pool, *snap, err);
    ASSERT_TRUE(next);
    EXPECT_FALSE(next->reused);  // a new connection, not the dead pooled one
    EXPECT_EQ(pool.idle_connections(), 0u);
}

TEST_F(PoolTest, RoundRobinSkipsRefusingEndpoint) {
    auto snap = snapshot({dead_port(), live.local_endpoint().port()});
    UpstreamPool pool(ioc.get_executor());
    for (int i = 0; i < 4; ++i) {
        UpstreamError err;
        auto c = acquire(pool, *snap, err, true);
        ASSERT_TRUE(c) << i;
        EXPECT_EQ(c->endpoint, 1u);
    }
}

TEST_F(PoolTest, AllEndpointsRefusingReportsRefused) {
    auto snap = snapshot({dead_port()});
    UpstreamPool pool(ioc.get_executor());
    UpstreamError err;
    EXPECT_FALSE(acquire(pool, *snap, err));
    EXPECT_EQ(err, UpstreamError::connect_refused);
}

TEST_F(PoolTest, NewSnapshotDropsOldConnections) {
    auto snap = snapshot({live.local_endpoint().port()});
    UpstreamPool pool(ioc.get_executor());
    UpstreamError err;
    pool.release(*snap, acquire(pool, *snap, err));
    EXPECT_EQ(pool.idle_connections(), 1u);
    auto next = snapshot({live.local_endpoint().port()});
    auto c = acquire(pool, *next, err);
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->reused);
    pool.release(*snap, std::move(c));  // released under the old snapshot: dropped
    EXPECT_EQ(pool.idle_connections(), 0u);
}

}  // namespace
}  // namespace authgate::proxy
