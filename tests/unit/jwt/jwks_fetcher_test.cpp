// The JWKS fetcher against a real HTTP server on 127.0.0.1 (ephemeral port, in-process
// thread). Synchronisation is by bounded waits on conditions, never by sleeping.
#include "jwt/jwks_fetcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "remote_provider_test.h"

namespace authgate::jwt {
namespace {
using namespace test;
using namespace std::chrono_literals;

class JwksServer {
public:
    JwksServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(fd_, 64), 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~JwksServer() { stop(); }

    void set_body(std::string body, int status = 200) {
        std::lock_guard lock(mu_);
        body_ = std::move(body);
        status_ = status;
    }
    int requests() const { return requests_.load(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/.well-known/jwks.json"; }
    void stop() {
        if (stopping_.exchange(true)) return;
        thread_.join();
        ::close(fd_);
    }

private:
    void run() {
        while (!stopping_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            serve(c);
            ::close(c);
        }
    }
    void serve(int c) {
        std::string req;
        char buf[2048];
        while (req.find("\r\n\r\n") == std::string::npos) {
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0) return;
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) return;
            req.append(buf, static_cast<std::size_t>(n));
        }
        EXPECT_EQ(req.rfind("GET /.well-known/jwks.json HTTP/1.1\r\n", 0), 0u) << req;
        requests_.fetch_add(1);
        std::string body;
        int status;
        {
            std::lock_guard lock(mu_);
            body = body_;
            status = status_;
        }
        const std::string res = "HTTP/1.1 " + std::to_string(status) +
                                " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
        std::size_t off = 0;
        while (off < res.size()) {
            const ssize_t n = ::write(c, res.data() + off, res.size() - off);
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> requests_{0};
    std::mutex mu_;
    std::string body_;
    int status_ = 200;
};

class FetcherTest : public RemoteProviderTest {
protected:
    JwksServer server_;
};

TEST_F(FetcherTest, InitialFetch) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1"), jwk_for("p256", "e1")}));
    make(server_.url(), 1h);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::keys_unavailable);  // before start
    set_->start();
    set_->start();  // idempotent
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().successes, 1u);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    EXPECT_EQ(call(sign_token(Algorithm::ES256, *private_key("p256"), claims(), {{"kid", "e1"}})).status, Status::ok);
    EXPECT_EQ(server_.requests(), 1);
}

TEST_F(FetcherTest, PeriodicRefreshAndBadResponsesKeepLastGoodSet) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 50ms);
    set_->start();
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(3, 10s));
    EXPECT_GE(server_.requests(), 3);
    EXPECT_EQ(provider_->jwks_stats().failures, 0u);

    for (auto [body, status] : {std::pair<std::string, int>{"garbage", 200}, {jwks_json({jwk_for("rsa", "k1")}), 500},
                                {R"({"keys":[]})", 200}}) {
        server_.set_body(body, status);
        const auto failures = provider_->jwks_stats().failures;
        ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().failures > failures; }));
        EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    }
}

TEST_F(FetcherTest, OutageKeepsLastGoodSet) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 50ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    server_.stop();
    const auto failures = provider_->jwks_stats().failures;
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().failures >= failures + 2; }));
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
}

TEST_F(FetcherTest, NeverFetchedIsUnavailable) {
    const std::string url = server_.url();
    server_.stop();  // nothing listens on that port any more
    make(url, 1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().failures, 1u);
    auto out = call(rsa_token("k1"));
    EXPECT_EQ(out.action, AuthOutcome::Action::unavailable);
    EXPECT_EQ(out.status, Status::keys_unavailable);
}

TEST_F(FetcherTest, RotationNewKidTriggersRefetch) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    set_->set_kid_refetch_cooldown(0ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    server_.set_body(jwks_json({jwk_for("rsa", "k1"), jwk_for("rsa2", "k2")}));
    // The request that sees the new kid is answered at once; the fetch happens behind it.
    EXPECT_EQ(call(rsa_token("k2", "rsa2")).status, Status::unknown_kid);
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(2, 10s));
    EXPECT_EQ(call(rsa_token("k2", "rsa2")).status, Status::ok);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
    EXPECT_EQ(server_.requests(), 2);
}

TEST_F(FetcherTest, UnknownKidFloodFetchesAtMostOncePerCooldown) {
    server_.set_body(jwks_json({jwk_for("rsa", "k1")}));
    make(server_.url(), 1h);
    set_->set_kid_refetch_cooldown(60s);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    const std::string header = base64url_encode(R"({"alg":"RS256","kid":"bad-)");
    std::vector<std::thread> threads;
    std::atomic<int> unknown{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 250; ++i) {
                const auto token = rsa_token("bad-" + std::to_string(t * 1000 + i));
                if (call(token).status == Status::unknown_kid) unknown.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(unknown.load(), 1000);
    ASSERT_TRUE(provider_->wait_for_fetch_attempts(2, 10s));
    EXPECT_EQ(provider_->jwks_stats().kid_refetch_requests, 1u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(call(rsa_token("again-" + std::to_string(i))).status, Status::unknown_kid);
    EXPECT_EQ(provider_->jwks_stats().kid_refetch_requests, 1u);
    EXPECT_FALSE(provider_->refetch_pending());
    EXPECT_EQ(server_.requests(), 2);
}

TEST(HttpUrl, Parsing) {
    HttpUrl u;
    ASSERT_TRUE(parse_http_url("https://auth.example.com/.well-known/jwks.json", u));
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.host, "auth.example.com");
    EXPECT_EQ(u.port, "443");
    EXPECT_EQ(u.target, "/.well-known/jwks.json");
    ASSERT_TRUE(parse_http_url("http://127.0.0.1:8080", u));
    EXPECT_FALSE(u.tls);
    EXPECT_EQ(u.port, "8080");
    EXPECT_EQ(u.target, "/");
    ASSERT_TRUE(parse_http_url("http://[::1]:9000/k?x=1#frag", u));
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.target, "/k?x=1");
    EXPECT_FALSE(parse_http_url("ftp://x/", u));
    EXPECT_FALSE(parse_http_url("http://user@host/", u));
    EXPECT_FALSE(parse_http_url("http://host:abc/", u));
    EXPECT_FALSE(parse_http_url("http:///path", u));
}

}  // namespace
}  // namespace authgate::jwt
