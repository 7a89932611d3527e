// A JWKS endpoint for tests: plain HTTP/1.1 on 127.0.0.1 (ephemeral port), served by its
// own thread, one connection at a time, whatever body and status the test last set. The
// JWKS fetcher suites and the gateway's integration tests both fetch from it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace authgate::jwt::test {

// A listening TCP socket on 127.0.0.1 with an ephemeral port (written to `port`).
inline int listen_on_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd, 64), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    return fd;
}

class JwksServer {
public:
    JwksServer() {
        fd_ = listen_on_loopback(port_);
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

}  // namespace authgate::jwt::test
