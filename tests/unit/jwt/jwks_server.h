// A JWKS endpoint for tests: plain HTTP/1.1 on 127.0.0.1 (ephemeral port), served by its
// own thread, one connection at a time, whatever body and status the test last set for
// the requested path (the JWKS path by default; an OpenID configuration document or a
// moved jwks_uri too). The JWKS fetcher suites and the gateway's integration tests both
// fetch from it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

namespace authgate::jwt::test {

// A TCP listener on 127.0.0.1 (ephemeral port) whose own thread hands each accepted
// connection to `serve`, one at a time, then closes it. stop() returns within one poll
// interval (20 ms) once `serve` has returned.
class LoopbackListener {
public:
    explicit LoopbackListener(std::function<void(int)> serve) : serve_(std::move(serve)) {
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
    ~LoopbackListener() { stop(); }

    std::uint16_t port() const { return port_; }
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
            serve_(c);
            ::close(c);
        }
    }

    std::function<void(int)> serve_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

inline constexpr char kJwksPath[] = "/.well-known/jwks.json";
inline constexpr char kOpenIdConfigurationPath[] = "/.well-known/openid-configuration";

// What a test server answers, by request path: the body and status last set for it, or
// 404 for a path never set. Counts the requests per path. Thread-safe.
class ResponseTable {
public:
    void set(const std::string& path, std::string body, int status = 200) {
        std::lock_guard lock(mu_);
        responses_[path] = {status, std::move(body)};
    }
    // The answer to the request head `req` ("GET /path HTTP/1.1 ..."), counted.
    std::pair<int, std::string> answer(const std::string& req) {
        const auto from = req.find(' ') + 1;
        const std::string path = req.substr(from, req.find(' ', from) - from);
        std::lock_guard lock(mu_);
        ++requests_[path];
        const auto it = responses_.find(path);
        if (it == responses_.end()) return {404, "not found"};
        return it->second;
    }
    int requests(const std::string& path) const {
        std::lock_guard lock(mu_);
        const auto it = requests_.find(path);
        return it == requests_.end() ? 0 : it->second;
    }

private:
    mutable std::mutex mu_;
    std::map<std::string, std::pair<int, std::string>> responses_;
    std::map<std::string, int> requests_;
};

// An OpenID Connect configuration document naming `issuer` and `jwks_uri`.
inline std::string openid_configuration(const std::string& issuer, const std::string& jwks_uri) {
    return R"({"issuer":")" + issuer + R"(","jwks_uri":")" + jwks_uri +
           R"(","response_types_supported":["code"],"id_token_signing_alg_values_supported":["RS256"]})";
}

class JwksServer {
public:
    JwksServer() { set_body(""); }  // the JWKS path answers 200 until told otherwise
    ~JwksServer() { stop(); }

    void set_body(std::string body, int status = 200) { set(kJwksPath, std::move(body), status); }
    void set(const std::string& path, std::string body, int status = 200) {
        table_.set(path, std::move(body), status);
    }
    int requests() const { return requests_.load(); }
    int requests(const std::string& path) const { return table_.requests(path); }
    std::string origin() const { return "http://127.0.0.1:" + std::to_string(listener_.port()); }
    std::string url(const std::string& path = kJwksPath) const { return origin() + path; }
    void stop() { listener_.stop(); }

private:
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
        EXPECT_EQ(req.rfind("GET /", 0), 0u) << req;
        requests_.fetch_add(1);
        const auto [status, body] = table_.answer(req);
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

    std::atomic<int> requests_{0};
    ResponseTable table_;
    LoopbackListener listener_{[this](int c) { serve(c); }};  // last: its thread uses the above
};

}  // namespace authgate::jwt::test
