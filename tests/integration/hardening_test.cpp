// The gateway's hardening rules, pinned on the wire: a raw client on a real loopback socket
// in front of the in-process gateway, and behind it a raw recording upstream
// (support/harness.h RawUpstream) that sees exactly the bytes the gateway sends. Every test
// asserts both what the client was answered and what the upstream received, then shows the
// gateway is not wedged (a fresh connection, and where kept alive the same one, gets its
// own answer). The rules are numbered as in the hardening brief.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "jwt/key.h"
#include "jwt/signer.h"
#include "support/harness.h"

namespace authgate::test {
namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kSecret = "hardening-hs256-secret-0123456789abcdef";

std::string token(const std::string& sub = "alice") {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    boost::json::object p{{"sub", sub}, {"iat", now}, {"exp", now + 600}};
    auto key = jwt::Key::from_secret(kSecret).key;
    return jwt::make_token(jwt::Algorithm::HS256, *key, {}, p).value_or("");
}

bool contains_ci(std::string_view hay, std::string_view needle) {
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
        if (boost::beast::iequals(hay.substr(i, needle.size()), needle)) return true;
    return false;
}

std::string json_error(const Response& r) {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec || !v.is_object()) return "<not json: " + r.body + ">";
    const auto* e = v.as_object().if_contains("error");
    return e && e->is_string() ? std::string(e->as_string().c_str()) : std::string("<no error>");
}

std::string hex(std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%zx", n);
    return buf;
}

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

// Reads (and discards) until the gateway closes the connection; true when it did within
// `limit` (EOF or reset). Bytes still in the client's parse buffer are dropped.
bool closed_within(Client& c, std::chrono::milliseconds limit, std::string* seen = nullptr) {
    if (seen) seen->append(static_cast<const char*>(c.buffer().data().data()), c.buffer().size());
    c.buffer().consume(c.buffer().size());
    const int fd = c.socket().native_handle();
    const auto deadline = Clock::now() + limit;
    for (;;) {
        const int left = ms_left(deadline);
        if (left == 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return true;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return true;  // reset
        }
        if (seen) seen->append(buf, static_cast<std::size_t>(n));
    }
}

// Sends `total` bytes of `fill` in 4 KiB pieces, stopping as soon as the gateway answers or
// closes (the socket turns readable) or a send fails. Returns the bytes sent.
std::size_t send_until_answered(Client& c, char fill, std::size_t total) {
    const int fd = c.socket().native_handle();
    const std::string block(4096, fill);
    std::size_t sent = 0;
    while (sent < total) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) break;
        ssize_t n = ::send(fd, block.data(), std::min(block.size(), total - sent), MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    // Give the gateway a bounded moment to answer the last piece before the caller reads.
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 3000);
    return sent;
}

// A response read byte for byte from the client socket (no Beast): the head, and the body
// as framed by Content-Length, chunked (raw chunks kept), or the close.
struct WireResponse {
    std::string head;
    std::string body;
    bool closed = false;    // the gateway closed the connection
    bool complete = false;  // the body ended by its framing (or the close, when unframed)
    unsigned status() const { return head.size() > 12 ? static_cast<unsigned>(std::atoi(head.c_str() + 9)) : 0; }
    std::optional<std::string> header(std::string_view name) const {
        std::size_t pos = head.find("\r\n");
        while (pos != std::string::npos && pos + 2 < head.size()) {
            auto eol = head.find("\r\n", pos + 2);
            std::string_view line(head.data() + pos + 2, eol - pos - 2);
            auto colon = line.find(':');
            if (colon != std::string_view::npos && boost::beast::iequals(line.substr(0, colon), name)) {
                auto v = line.substr(colon + 1);
                while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
                while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
                return std::string(v);
            }
            pos = eol;
        }
        return std::nullopt;
    }
};

WireResponse read_wire_response(Client& c, std::chrono::milliseconds limit) {
    WireResponse out;
    std::string data(static_cast<const char*>(c.buffer().data().data()), c.buffer().size());
    c.buffer().consume(c.buffer().size());
    const int fd = c.socket().native_handle();
    const auto deadline = Clock::now() + limit;
    auto more = [&]() {
        const int left = ms_left(deadline);
        if (left == 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left) <= 0) return ms_left(deadline) > 0;
        char buf[16384];
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        if (n <= 0) {
            out.closed = true;
            return false;
        }
        data.append(buf, static_cast<std::size_t>(n));
        return true;
    };
    std::size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos)
        if (!more()) return out;
    out.head = data.substr(0, end + 4);
    std::string rest = data.substr(end + 4);
    auto cl = out.header("Content-Length");
    auto te = out.header("Transfer-Encoding");
    if (cl) {
        const std::size_t n = std::stoul(*cl);
        while (rest.size() < n) {
            if (!more()) break;
            rest = data.substr(end + 4);
        }
        out.complete = rest.size() >= n;
        out.body = rest.substr(0, std::min(n, rest.size()));
    } else if (te) {
        while (rest.find("0\r\n\r\n") == std::string::npos) {
            if (!more()) break;
            rest = data.substr(end + 4);
        }
        out.complete = rest.find("0\r\n\r\n") != std::string::npos;
        out.body = rest;
    } else {
        while (more()) {
        }
        out.body = data.substr(end + 4);
        out.complete = out.closed;
    }
    return out;
}

class Hardening : public ::testing::Test {
protected:
    void SetUp() override {
        cfg = base_config(up.port());
        cfg.jwt.providers = {hs256_provider("hs", kSecret)};
        auto pub = route("public", "/api/public/");
        auto priv = route("private", "/api/private/");
        priv.auth.none = false;
        priv.auth.providers = {"hs"};
        auto admin = route("admin", "/api/admin");
        admin.auth.none = false;
        admin.auth.providers = {"hs"};
        cfg.routes = {pub, priv, admin};
    }

    Gateway& gw() {
        if (!gateway) gateway = std::make_unique<Gateway>(cfg);
        return *gateway;
    }

    // Rule 13: a normal request on a new connection gets its own response, and a second
    // one on that same kept-alive connection too.
    void expect_not_wedged(const std::string& tag, Gateway* g = nullptr) {
        SCOPED_TRACE("follow-up after " + tag);
        Gateway& gate = g ? *g : gw();
        const std::size_t before = up.requests();
        Client c(gate.port(), 5s);
        for (int i = 0; i < 2; ++i) {
            const std::string target = "/api/public/alive-" + tag + "-" + std::to_string(i);
            auto r = c.request("GET", target);
            ASSERT_TRUE(r) << "no response to " << target;
            EXPECT_EQ(r->status, 200u) << r->body;
            EXPECT_NE(r->body.find(" GET " + target), std::string::npos) << "not its own response: " << r->body;
            EXPECT_EQ(r->count("X-Injected"), 0u);
            ASSERT_TRUE(r->keep_alive);
        }
        EXPECT_EQ(up.requests(), before + 2);
    }

    // Index of the upstream connection that received a request for `target`, or -1.
    long conn_of(const std::string& target) const {
        for (const auto& c : up.connections())
            for (const auto& r : c.requests)
                if (r.target == target) return static_cast<long>(c.index);
        return -1;
    }

    // The last complete request the upstream received for `target`.
    std::optional<RawRequest> received(const std::string& target) const {
        std::optional<RawRequest> out;
        for (const auto& r : up.all_requests())
            if (r.target == target) out = r;
        return out;
    }

    // Every upstream connection whose bytes mention `needle` has been closed by the gateway
    // (bounded wait), and none of them carried a complete request for `target`.
    void expect_upstream_never_completed(const std::string& target, const std::string& needle) {
        EXPECT_FALSE(received(target)) << "the upstream received a complete " << target;
        const bool closed = up.wait_until(
            [&](const std::vector<RawConnection>& cs) {
                for (const auto& c : cs)
                    if (c.received.find(needle) != std::string::npos && !c.eof) return false;
                return true;
            },
            3s);
        EXPECT_TRUE(closed) << "an upstream connection carrying part of " << target << " was left open";
    }

    RawUpstream up;
    config::Config cfg;
    std::unique_ptr<Gateway> gateway;
};

// ---- Rule 1: one request in, at most one request out --------------------------------------

TEST_F(Hardening, ConnectionNamingFramingHeadersIs400AndNothingIsSmuggled) {
    const std::string smuggled = "GET /api/admin HTTP/1.1\r\nHost: gw\r\nX-User-Id: admin\r\n\r\n";
    struct Case {
        std::string connection;
        bool chunked;
    };
    const std::vector<Case> cases = {
        {"Content-Length", false},           {"content-length", false},
        {"CONTENT-LENGTH", false},           {"keep-alive, content-length", false},
        {"Content-Length, keep-alive", false}, {"Host", false},
        {"keep-alive, HOST", false},         {"Transfer-Encoding", true},
        {"transfer-encoding", true},         {"keep-alive, Transfer-Encoding", true},
        {"Host", true},
    };
    int i = 0;
    for (const auto& k : cases) {
        SCOPED_TRACE("Connection: " + k.connection + (k.chunked ? " (chunked body)" : " (Content-Length body)"));
        const std::size_t bytes_before = up.bytes_received();
        Client c(gw().port(), 5s);
        std::string raw = "GET /api/public/x HTTP/1.1\r\nHost: gw\r\nConnection: " + k.connection + "\r\n";
        if (k.chunked)
            raw += "Transfer-Encoding: chunked\r\n\r\n" + hex(smuggled.size()) + "\r\n" + smuggled + "\r\n0\r\n\r\n";
        else
            raw += "Content-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled;
        c.send(raw);
        auto r = c.read_response();
        ASSERT_TRUE(r) << "no response";
        EXPECT_EQ(r->status, 400u) << r->body;
        // Whatever else the gateway does on this connection, nothing reaches the upstream.
        if (r->keep_alive) {
            // A smuggled second request, if the gateway took one from the body, would be
            // answered here; the connection must rather be closed or stay silent.
            std::string extra;
            closed_within(c, 300ms, &extra);
            EXPECT_EQ(extra.find("HTTP/1.1"), std::string::npos) << "a second response: " << extra;
        }
        EXPECT_EQ(up.bytes_received(), bytes_before) << "the upstream received bytes of a rejected request";
        expect_not_wedged("rule1-" + std::to_string(i++));
    }
    for (const auto& c : up.connections()) {
        EXPECT_EQ(c.received.find("/api/admin"), std::string::npos) << c.received;
        EXPECT_FALSE(contains_ci(c.received, "X-User-Id: admin")) << c.received;
        EXPECT_FALSE(c.malformed) << c.received;
    }
    for (const auto& r : up.all_requests()) EXPECT_EQ(r.target.rfind("/api/public/alive-", 0), 0u) << r.target;
}

TEST_F(Hardening, ForwardedBodyFramingIsExactlyTheParsersOwn) {
    Client c(gw().port(), 5s);
    {
        SCOPED_TRACE("Content-Length: 5");
        c.send("POST /api/public/cl HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        EXPECT_NE(r->body.find(" POST /api/public/cl"), std::string::npos) << r->body;
        auto u = received("/api/public/cl");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("Content-Length"), 1u) << u->head;
        EXPECT_EQ(u->header("Content-Length"), "5");
        EXPECT_EQ(u->count("Transfer-Encoding"), 0u) << u->head;
        EXPECT_EQ(u->body, "hello");
        EXPECT_EQ(u->wire.size(), u->head.size() + 5);
    }
    {
        SCOPED_TRACE("Content-Length with surrounding whitespace");
        c.send("POST /api/public/cl-ows HTTP/1.1\r\nHost: gw\r\nContent-Length:   5  \r\n\r\nworld");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        auto u = received("/api/public/cl-ows");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("Content-Length"), 1u) << u->head;
        EXPECT_EQ(u->header("Content-Length"), "5");
        EXPECT_EQ(u->body, "world");
    }
    {
        SCOPED_TRACE("chunked");
        c.send("POST /api/public/chunked HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        EXPECT_NE(r->body.find(" POST /api/public/chunked"), std::string::npos) << r->body;
        auto u = received("/api/public/chunked");
        ASSERT_TRUE(u);
        EXPECT_TRUE(u->chunked);
        EXPECT_EQ(u->count("Transfer-Encoding"), 1u) << u->head;
        EXPECT_EQ(u->count("Content-Length"), 0u) << u->head;
        EXPECT_EQ(u->body, "hello world");
        EXPECT_GE(u->wire.size(), 5u);
        EXPECT_EQ(u->wire.substr(u->wire.size() - 5), "0\r\n\r\n");
    }
    {
        SCOPED_TRACE("body-less GET");
        auto r = c.request("GET", "/api/public/nobody");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        EXPECT_NE(r->body.find(" GET /api/public/nobody"), std::string::npos) << r->body;
        auto u = received("/api/public/nobody");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("Content-Length"), 0u) << u->head;
        EXPECT_EQ(u->count("Transfer-Encoding"), 0u) << u->head;
        EXPECT_EQ(u->wire, u->head);
    }
    // Nothing but these requests, byte for byte, ever reached the upstream.
    const bool settled = up.wait_until(
        [](const std::vector<RawConnection>& cs) {
            for (const auto& k : cs)
                if (!k.pending.empty() || k.malformed) return false;
            return true;
        },
        500ms);
    EXPECT_TRUE(settled);
    for (const auto& k : up.connections()) {
        std::string all;
        for (const auto& r : k.requests) all += r.wire;
        EXPECT_EQ(k.received, all) << "bytes beyond the forwarded requests on upstream connection " << k.index;
    }
    EXPECT_EQ(up.requests(), 4u);
    expect_not_wedged("rule1-framing");
}

// ---- Rule 2: Connection options never remove a header the gateway sets --------------------

TEST_F(Hardening, ConnectionOptionsNeverRemoveGatewayHeaders) {
    {
        SCOPED_TRACE("protected route, valid token");
        Client c(gw().port(), 5s);
        auto r = c.request("GET", "/api/private/me",
                           {{"Connection", "X-Forwarded-For, X-Request-Id, Via, X-User-Id"},
                            {"Authorization", "Bearer " + token("alice")},
                            {"X-User-Id", "mallory"},
                            {"X-Forwarded-For", "10.6.6.6"},
                            {"Via", "1.0 evil"}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        auto u = received("/api/private/me");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("X-Forwarded-For"), 1u) << u->head;
        auto xff = u->header("X-Forwarded-For").value_or("");
        EXPECT_TRUE(xff.size() >= 9 && xff.substr(xff.size() - 9) == "127.0.0.1") << xff;
        EXPECT_EQ(u->count("X-Request-Id"), 1u) << u->head;
        EXPECT_FALSE(u->header("X-Request-Id").value_or("").empty());
        EXPECT_EQ(u->header("X-Request-Id").value_or("?"), r->header("X-Request-Id"));
        EXPECT_EQ(u->count("Via"), 1u) << u->head;
        EXPECT_NE(u->header("Via").value_or("").find("authgate"), std::string::npos) << u->head;
        EXPECT_EQ(u->count("X-User-Id"), 1u) << u->head;
        EXPECT_EQ(u->header("X-User-Id"), "alice");
        EXPECT_EQ(u->head.find("mallory"), std::string::npos) << u->head;
        EXPECT_EQ(u->head.find("evil"), std::string::npos) << u->head;
        auto again = c.request("GET", "/api/private/again", {{"Authorization", "Bearer " + token("bob")}});
        ASSERT_TRUE(again);
        EXPECT_EQ(again->status, 200u);
        EXPECT_EQ(received("/api/private/again")->header("X-User-Id"), "bob");
    }
    {
        SCOPED_TRACE("public route, mixed case options");
        Client c(gw().port(), 5s);
        auto r = c.request("GET", "/api/public/anon",
                           {{"Connection", "x-forwarded-for,VIA , x-request-id,x-user-id"}, {"X-User-Id", "mallory"}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        auto u = received("/api/public/anon");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("X-Forwarded-For"), 1u) << u->head;
        EXPECT_EQ(u->count("X-Request-Id"), 1u) << u->head;
        EXPECT_EQ(u->count("Via"), 1u) << u->head;
        EXPECT_EQ(u->count("X-User-Id"), 0u) << u->head;
    }
    expect_not_wedged("rule2");
}

// ---- Rule 3: an upstream Connection naming framing headers is a 502 ------------------------

TEST_F(Hardening, UpstreamConnectionNamingFramingHeadersIs502AndNotReused) {
    const std::map<std::string, std::string> scripted = {
        {"/api/public/r-cl", "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello"},
        {"/api/public/r-cl-list", "HTTP/1.1 200 OK\r\nConnection: keep-alive, content-length\r\nContent-Length: 5\r\n\r\nhello"},
        {"/api/public/r-te",
         "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
        {"/api/public/r-te-upper",
         "HTTP/1.1 200 OK\r\nConnection: TRANSFER-ENCODING\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
        {"/api/public/r-host", "HTTP/1.1 200 OK\r\nConnection: Host\r\nContent-Length: 5\r\n\r\nhello"},
    };
    up.respond_with([scripted](const RawRequest& r, std::size_t conn, std::size_t nth) {
        auto it = scripted.find(r.target);
        return it == scripted.end() ? RawUpstream::echo(r, conn, nth) : RawReply{it->second};
    });
    for (const auto& [target, reply] : scripted) {
        SCOPED_TRACE(target);
        Client c(gw().port(), 5s);
        auto r = c.request("GET", target);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 502u) << r->body;
        EXPECT_EQ(json_error(*r), "bad_gateway");
        const long bad = conn_of(target);
        ASSERT_GE(bad, 0) << "the upstream never received " << target;
        EXPECT_TRUE(up.wait_until([bad](const auto& cs) { return cs[static_cast<std::size_t>(bad)].eof; }, 3s))
            << "the upstream connection that sent it was kept";
        if (r->keep_alive) {
            auto next = c.request("GET", target + "-next");
            ASSERT_TRUE(next);
            EXPECT_EQ(next->status, 200u);
            EXPECT_NE(next->body.find(" GET " + target + "-next"), std::string::npos) << next->body;
            EXPECT_NE(conn_of(target + "-next"), bad);
        }
        expect_not_wedged("rule3" + target.substr(11));
        EXPECT_EQ(up.connections()[static_cast<std::size_t>(bad)].requests.back().target, target) << "reused after the 502";
    }
}

// ---- Rule 4: pool hygiene --------------------------------------------------------------------

TEST_F(Hardening, ExtraUpstreamBytesNeverReachTheNextRequest) {
    const std::string injected = RawUpstream::response("injected", "X-Injected: 1\r\n");
    up.respond_with([injected](const RawRequest& r, std::size_t conn, std::size_t nth) {
        if (r.target == "/api/public/inject") return RawReply{RawUpstream::response("first") + injected};
        if (r.target == "/api/public/head-body")  // HEAD answered with body bytes anyway
            return RawReply{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello" + injected};
        return RawUpstream::echo(r, conn, nth);
    });
    {
        SCOPED_TRACE("complete response followed by an unsolicited one");
        Client c(gw().port(), 5s);
        auto first = c.request("GET", "/api/public/inject");
        ASSERT_TRUE(first);
        EXPECT_EQ(first->status, 200u);
        EXPECT_EQ(first->body, "first");
        EXPECT_EQ(first->count("X-Injected"), 0u);
        const long bad = conn_of("/api/public/inject");
        ASSERT_GE(bad, 0);
        const std::size_t accepted = up.accepted();
        ASSERT_TRUE(first->keep_alive);
        auto next = c.request("GET", "/api/public/after-inject");
        ASSERT_TRUE(next);
        EXPECT_EQ(next->status, 200u);
        EXPECT_EQ(next->count("X-Injected"), 0u);
        EXPECT_NE(next->body.find(" GET /api/public/after-inject"), std::string::npos) << next->body;
        EXPECT_NE(conn_of("/api/public/after-inject"), bad);
        EXPECT_GT(up.accepted(), accepted) << "not a new upstream connection";
        Client c2(gw().port(), 5s);
        auto other = c2.request("GET", "/api/public/after-inject-2");
        ASSERT_TRUE(other);
        EXPECT_EQ(other->count("X-Injected"), 0u);
        EXPECT_NE(other->body.find(" GET /api/public/after-inject-2"), std::string::npos) << other->body;
        EXPECT_NE(conn_of("/api/public/after-inject-2"), bad);
        EXPECT_TRUE(up.wait_until([bad](const auto& cs) { return cs[static_cast<std::size_t>(bad)].eof; }, 3s))
            << "the tainted upstream connection was kept open";
        EXPECT_EQ(up.connections()[static_cast<std::size_t>(bad)].requests.back().target, "/api/public/inject")
            << "reused after the injected bytes";
    }
    {
        SCOPED_TRACE("response to HEAD carrying body bytes");
        Client c(gw().port(), 5s);
        c.send("HEAD /api/public/head-body HTTP/1.1\r\nHost: gw\r\n\r\n");
        auto head = c.read_response(true);
        ASSERT_TRUE(head);
        EXPECT_EQ(head->status, 200u);
        EXPECT_EQ(head->header("Content-Length"), "5");
        const long bad = conn_of("/api/public/head-body");
        ASSERT_GE(bad, 0);
        const std::size_t accepted = up.accepted();
        ASSERT_TRUE(head->keep_alive);
        auto next = c.request("GET", "/api/public/after-head");
        ASSERT_TRUE(next) << "the client connection lost sync (body bytes after a HEAD response?)";
        EXPECT_EQ(next->status, 200u);
        EXPECT_EQ(next->count("X-Injected"), 0u);
        EXPECT_NE(next->body.find(" GET /api/public/after-head"), std::string::npos) << next->body;
        EXPECT_NE(conn_of("/api/public/after-head"), bad);
        EXPECT_GT(up.accepted(), accepted) << "not a new upstream connection";
        EXPECT_TRUE(up.wait_until([bad](const auto& cs) { return cs[static_cast<std::size_t>(bad)].eof; }, 3s));
        EXPECT_EQ(up.connections()[static_cast<std::size_t>(bad)].requests.back().target, "/api/public/head-body")
            << "reused after the body bytes of a HEAD response";
    }
    expect_not_wedged("rule4");
}

// ---- Rule 5: bounded memory on chunk-size lines and trailers -------------------------------

TEST_F(Hardening, ChunkLinesAndTrailersAreBounded) {
    cfg.server.limits.max_header_bytes = 4096;
    const std::string head = "Host: gw\r\nTransfer-Encoding: chunked\r\n\r\n";
    {
        SCOPED_TRACE("chunk-size line '1;' then 64 KiB without CRLF");
        Client c(gw().port(), 5s);
        c.send("POST /api/public/ext-flood HTTP/1.1\r\n" + head + "1;");
        send_until_answered(c, 'a', 64 * 1024);
        auto r = c.read_response();
        ASSERT_TRUE(r) << "no response";
        EXPECT_EQ(r->status, 400u) << r->body;
        EXPECT_TRUE(closed_within(c, 3s));
        expect_upstream_never_completed("/api/public/ext-flood", "ext-flood");
        expect_not_wedged("rule5-ext-flood");
    }
    {
        SCOPED_TRACE("chunk extensions of ~4000 bytes are accepted");
        Client c(gw().port(), 5s);
        const std::string ext = ";name=" + std::string(3990, 'x');
        c.send("POST /api/public/ext-ok HTTP/1.1\r\n" + head + "5" + ext + "\r\nhello\r\n0\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_NE(r->body.find(" POST /api/public/ext-ok"), std::string::npos) << r->body;
        auto u = received("/api/public/ext-ok");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->body, "hello");
        ASSERT_TRUE(r->keep_alive);
        auto next = c.request("GET", "/api/public/after-ext-ok");
        ASSERT_TRUE(next);
        EXPECT_NE(next->body.find(" GET /api/public/after-ext-ok"), std::string::npos) << next->body;
    }
    {
        SCOPED_TRACE("small trailers are fine");
        Client c(gw().port(), 5s);
        c.send("POST /api/public/trailer-ok HTTP/1.1\r\n" + head + "5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        auto u = received("/api/public/trailer-ok");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->body, "hello");
        ASSERT_TRUE(r->keep_alive);
        auto next = c.request("GET", "/api/public/after-trailer-ok");
        ASSERT_TRUE(next);
        EXPECT_NE(next->body.find(" GET /api/public/after-trailer-ok"), std::string::npos) << next->body;
    }
    struct Flood {
        std::string name, prefix;
        char fill;
    };
    for (const auto& f : {Flood{"trailer-long-line", "X-Big: ", 'b'}, Flood{"trailer-many-lines", "", '\n'}}) {
        SCOPED_TRACE(f.name + " beyond max_header_bytes");
        Client c(gw().port(), 5s);
        const std::string target = "/api/public/" + f.name;
        c.send("POST " + target + " HTTP/1.1\r\n" + head + "5\r\nhello\r\n0\r\n" + f.prefix);
        if (f.fill == '\n') {
            // Many small trailer fields instead of one long one.
            const int fd = c.socket().native_handle();
            std::string line = "X-T: 0123456789abcdef\r\n";
            for (std::size_t sent = 0; sent < 64 * 1024; sent += line.size()) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 0) > 0) break;
                if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) <= 0) break;
            }
            pollfd p{fd, POLLIN, 0};
            ::poll(&p, 1, 3000);
        } else {
            send_until_answered(c, f.fill, 64 * 1024);
        }
        auto r = c.read_response();
        ASSERT_TRUE(r) << "no response";
        EXPECT_TRUE(r->status == 431u || r->status == 400u) << r->status << " " << r->body;
        EXPECT_TRUE(closed_within(c, 3s));
        expect_upstream_never_completed(target, f.name);
        expect_not_wedged("rule5-" + f.name);
    }
}

// ---- Rule 6: the request_body timeout ------------------------------------------------------

TEST_F(Hardening, RequestBodyTimeoutCutsStalledAndTricklingBodies) {
    cfg.server.timeouts.request_body = 1s;
    cfg.server.timeouts.idle = 30s;
    const auto bound = 4s;  // request_body 1s, well under idle 30s
    {
        SCOPED_TRACE("header only, then nothing");
        Client c(gw().port(), 8s);
        const auto start = Clock::now();
        c.send("POST /api/public/stall-0 HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\n");
        auto r = c.read_response();
        const auto took = Clock::now() - start;
        ASSERT_TRUE(r) << "no response";
        EXPECT_EQ(r->status, 408u) << r->body;
        EXPECT_EQ(json_error(*r), "request_timeout");
        EXPECT_LT(took, bound);
        EXPECT_GE(took, 500ms) << "answered before the body could arrive";
        EXPECT_TRUE(closed_within(c, 2s)) << "the unread body leaves the connection out of sync";
        EXPECT_EQ(up.accepted(), 0u) << "an upstream connection was opened before any body byte";
        EXPECT_EQ(up.bytes_received(), 0u);
        expect_not_wedged("rule6-stall-0");
    }
    {
        SCOPED_TRACE("3 of 10 body bytes, then nothing");
        Client c(gw().port(), 8s);
        const auto start = Clock::now();
        c.send("POST /api/public/stall-3 HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\nabc");
        std::string seen;
        EXPECT_TRUE(closed_within(c, bound, &seen)) << "the client connection was not closed";
        EXPECT_LT(Clock::now() - start, bound);
        if (!seen.empty()) {
            EXPECT_EQ(seen.rfind("HTTP/1.1 408", 0), 0u) << seen;
        }
        expect_upstream_never_completed("/api/public/stall-3", "stall-3");
        expect_not_wedged("rule6-stall-3");
    }
    {
        SCOPED_TRACE("one byte every 300 ms");
        Client c(gw().port(), 8s);
        const int fd = c.socket().native_handle();
        const auto start = Clock::now();
        c.send("POST /api/public/trickle HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\n");
        int sent = 0;
        for (; sent < 10; ++sent) {
            if (::send(fd, "x", 1, MSG_NOSIGNAL) != 1) break;
            pollfd p{fd, POLLIN, 0};  // pacing that also notices the gateway's answer or close
            if (::poll(&p, 1, 300) > 0) break;
        }
        std::string seen;
        EXPECT_TRUE(closed_within(c, bound, &seen)) << "the client connection was not closed";
        EXPECT_LT(sent, 8) << "the whole body was allowed to trickle in (a per-read timeout?)";
        EXPECT_LT(Clock::now() - start, bound);
        if (!seen.empty()) {
            EXPECT_EQ(seen.rfind("HTTP/1.1 408", 0), 0u) << seen;
        }
        expect_upstream_never_completed("/api/public/trickle", "trickle");
        expect_not_wedged("rule6-trickle");
    }
}

// ---- Rule 7: header names with '_', Forwarded, X-Real-IP -----------------------------------

TEST_F(Hardening, UnderscoreHeadersAndClientForwardingHeaders) {
    const Headers sent = {{"X_User_Id", "admin"}, {"Foo_Bar", "1"}, {"X-Other", "yes"},
                          {"Forwarded", "for=6.6.6.6;proto=https"}, {"X-Real-IP", "6.6.6.6"}};
    {
        SCOPED_TRACE("drop (default)");
        Client c(gw().port(), 5s);
        auto r = c.request("GET", "/api/public/under-drop", sent);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        auto u = received("/api/public/under-drop");
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("X_User_Id"), 0u) << u->head;
        EXPECT_EQ(u->count("Foo_Bar"), 0u) << u->head;
        EXPECT_EQ(u->count("X-User-Id"), 0u) << u->head;
        EXPECT_EQ(u->header("X-Other"), "yes");
        EXPECT_EQ(u->count("Forwarded"), 0u) << u->head;
        EXPECT_EQ(u->count("X-Real-IP"), 0u) << u->head;
        Headers with_token = sent;
        with_token.emplace_back("Authorization", "Bearer " + token("alice"));
        auto p = c.request("GET", "/api/private/under-drop", with_token);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->status, 200u) << p->body;
        auto pu = received("/api/private/under-drop");
        ASSERT_TRUE(pu);
        EXPECT_EQ(pu->count("X_User_Id"), 0u) << pu->head;
        EXPECT_EQ(pu->count("X-User-Id"), 1u) << pu->head;
        EXPECT_EQ(pu->header("X-User-Id"), "alice");
        expect_not_wedged("rule7-drop");
    }
    {
        SCOPED_TRACE("reject");
        auto c2 = cfg;
        c2.server.headers_with_underscores = config::Underscores::reject;
        Gateway g(c2);
        const std::size_t bytes = up.bytes_received();
        for (const auto& h : Headers{{"Foo_Bar", "1"}, {"X_User_Id", "admin"}}) {
            SCOPED_TRACE(h.first);
            Client c(g.port(), 5s);
            auto r = c.request("GET", "/api/public/under-reject", {h});
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 400u) << r->body;
        }
        EXPECT_EQ(up.bytes_received(), bytes) << "a rejected request reached the upstream";
        expect_not_wedged("rule7-reject", &g);
    }
    {
        SCOPED_TRACE("allow");
        auto c3 = cfg;
        c3.server.headers_with_underscores = config::Underscores::allow;
        Gateway g(c3);
        Client c(g.port(), 5s);
        auto r = c.request("GET", "/api/public/under-allow", sent);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        auto u = received("/api/public/under-allow");
        ASSERT_TRUE(u);
        EXPECT_NE(u->head.find("\r\nFoo_Bar: 1\r\n"), std::string::npos) << u->head;
        EXPECT_EQ(u->header("X-Other"), "yes");
        EXPECT_EQ(u->count("Forwarded"), 0u) << u->head;
        EXPECT_EQ(u->count("X-Real-IP"), 0u) << u->head;
        expect_not_wedged("rule7-allow", &g);
    }
}

// ---- Rule 8: ambiguous paths are a 400 before routing --------------------------------------

TEST_F(Hardening, AmbiguousPathsAre400BeforeRouting) {
    const std::vector<std::string> bad = {
        "/api/public\\..\\admin",       // raw backslash (and no route would match)
        "/api/public/a\\b",
        "/api/public/%5C..%5Cadmin",
        "/api/public/%5c..%5cadmin",
        "/nowhere/%5c",                 // no route matches: still 400, not 404
        "/api/public/a%00b",
        "/nowhere/%00",
        "/api/public/a%0ab",
        "/api/public/a%0Ab",
        "/api/public/a%0db",
        "/api/public/a%1Fb",
        "/api/public/a%1fb",
        "/api/public/a%7Fb",
        "/api/public/..;/admin",
        "/api/public/.;/x",
        "/api/public/..;jsessionid=1/admin",
        "/api/public/%2e%2e;/admin",
        "/api/public/%2E;/x",
        "/api/public/.%2e;/admin",
        "/api/public/..%3Badmin",
        "/api/public/..%3badmin",
        "/api/public/.%3B/x",
        "/api/public/%2e%2e%3b/admin",
        "/nowhere/..;/x",
    };
    const std::size_t bytes = up.bytes_received();
    for (const auto& path : bad) {
        SCOPED_TRACE(path);
        Client c(gw().port(), 5s);
        c.send("GET " + path + " HTTP/1.1\r\nHost: gw\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r) << "no response";
        EXPECT_EQ(r->status, 400u) << r->body;
    }
    EXPECT_EQ(up.bytes_received(), bytes) << "an ambiguous path reached the upstream";
    expect_not_wedged("rule8");
    Client c(gw().port(), 5s);
    for (const std::string path : {"/api/public/a;b=1", "/api/public/v1;jsessionid=abc/items", "/api/public/a.;b"}) {
        SCOPED_TRACE(path);
        auto r = c.request("GET", path);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_TRUE(received(path)) << "the upstream did not receive " << path << " as is";
    }
}

// ---- Rule 9: Host syntax ---------------------------------------------------------------------

TEST_F(Hardening, HostMustBeHostOrHostPort) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"space", "Host: a b\r\n"},          {"port 0", "Host: x:0\r\n"},
        {"port 65536", "Host: x:65536\r\n"}, {"port 8a", "Host: x:8a\r\n"},
        {"empty port", "Host: x:\r\n"},      {"unclosed IPv6", "Host: [::1\r\n"},
        {"slash", "Host: x/y\r\n"},          {"userinfo", "Host: x@y\r\n"},
        {"missing", ""},                     {"two identical", "Host: a\r\nHost: a\r\n"},
        {"two different", "Host: a\r\nHost: b\r\n"},
    };
    const std::size_t bytes = up.bytes_received();
    for (const auto& [name, host] : bad) {
        SCOPED_TRACE(name);
        Client c(gw().port(), 5s);
        c.send("GET /api/public/host HTTP/1.1\r\n" + host + "\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r) << "no response";
        EXPECT_EQ(r->status, 400u) << r->body;
    }
    EXPECT_EQ(up.bytes_received(), bytes) << "a bad Host reached the upstream";
    expect_not_wedged("rule9");
    Client c(gw().port(), 5s);
    int i = 0;
    for (const std::string host : {"[::1]:8080", "example.com", "example.com:443", "[::1]", "x:1", "x:65535"}) {
        SCOPED_TRACE(host);
        const std::string target = "/api/public/host-ok-" + std::to_string(i++);
        auto r = c.request("GET", target, {{"Host", host}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_NE(r->body.find(" GET " + target), std::string::npos) << r->body;
        EXPECT_TRUE(received(target));
    }
}

// ---- Rule 10: two Authorization headers ------------------------------------------------------

TEST_F(Hardening, TwoAuthorizationHeadersAre400) {
    const std::string good = "Bearer " + token("alice");
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {good, good}, {good, "Bearer " + token("mallory")}, {good, "Bearer not.a.token"}, {"Basic Zm9vOmJhcg==", good}};
    const std::size_t bytes = up.bytes_received();
    for (const auto& [a, b] : pairs) {
        SCOPED_TRACE(a.substr(0, 12) + " / " + b.substr(0, 12));
        Client c(gw().port(), 5s);
        auto r = c.request("GET", "/api/private/two-auth", {{"Authorization", a}, {"Authorization", b}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400u) << r->body;
        EXPECT_EQ(json_error(*r), "invalid_request");
    }
    EXPECT_EQ(up.bytes_received(), bytes) << "a request with two Authorization headers reached the upstream";
    expect_not_wedged("rule10");
    Client c(gw().port(), 5s);
    auto r = c.request("GET", "/api/private/one-auth", {{"Authorization", good}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    ASSERT_TRUE(received("/api/private/one-auth"));
    EXPECT_EQ(received("/api/private/one-auth")->header("X-User-Id"), "alice");
}

// ---- Rule 11: only Upgrade: websocket is honoured --------------------------------------------

TEST_F(Hardening, H2cUpgradeIsForwardedAsAPlainRequest) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"h2c-1", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
        {"h2c-2", "Connection: upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
        {"h2c-3", "Connection: keep-alive, UPGRADE\r\nUpgrade: h2c\r\n"},
    };
    for (const auto& [name, fields] : cases) {
        SCOPED_TRACE(name);
        Client c(gw().port(), 5s);
        const std::string target = "/api/public/" + name;
        c.send("GET " + target + " HTTP/1.1\r\nHost: gw\r\n" + fields + "\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_NE(r->body.find(" GET " + target), std::string::npos) << r->body;
        EXPECT_EQ(r->count("Upgrade"), 0u);
        auto u = received(target);
        ASSERT_TRUE(u);
        EXPECT_EQ(u->count("Upgrade"), 0u) << u->head;
        EXPECT_FALSE(contains_ci(u->header("Connection").value_or(""), "upgrade")) << u->head;
        if (name == "h2c-1") {
            EXPECT_EQ(u->count("HTTP2-Settings"), 0u) << u->head;
        }
        ASSERT_TRUE(r->keep_alive);
        auto next = c.request("GET", target + "-next");
        ASSERT_TRUE(next);
        EXPECT_EQ(next->status, 200u);
        EXPECT_NE(next->body.find(" GET " + target + "-next"), std::string::npos) << next->body;
    }
    expect_not_wedged("rule11");
}

TEST_F(Hardening, WebSocketUpgradeCarriesNoOtherProtocol) {
    // "websocket" among other tokens is honoured, but only websocket goes upstream.
    Client c(gw().port(), 5s);
    c.send("GET /api/public/ws-mixed HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    ASSERT_TRUE(up.wait_until([](const auto& cs) {
        for (const auto& conn : cs)
            for (const auto& r : conn.requests)
                if (r.target == "/api/public/ws-mixed") return true;
        return false;
    }, 5s));
    auto u = received("/api/public/ws-mixed");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->count("Upgrade"), 1u) << u->head;
    EXPECT_EQ(u->header("Upgrade"), "websocket") << u->head;
}

// ---- Trailers and HTTP/1.0 heads (found by fuzz_request) -------------------------------------

TEST_F(Hardening, TrailerFieldsNeverReachTheUpstreamHead) {
    // The parser files a chunked body's trailers with the header fields; none of them is
    // checked by the decision, so none may be forwarded (not as a header, not as a trailer).
    for (const std::string& body : {std::string("0\r\n"), std::string("3\r\nabc\r\n0\r\n")}) {
        SCOPED_TRACE(body.size());
        const std::string target = "/api/public/trailers-" + std::to_string(body.size());
        Client c(gw().port(), 5s);
        c.send("POST " + target + " HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
               "X-User-Id: mallory\r\nX_Role: admin\r\nForwarded: for=1.1.1.1\r\nX-Real-IP: 1.1.1.1\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u) << r->body;
        auto u = received(target);
        ASSERT_TRUE(u);
        for (const char* name : {"X-User-Id", "X_Role", "Forwarded", "X-Real-IP"}) {
            EXPECT_EQ(u->count(name), 0u) << name << " in " << u->head;
            for (const auto& [k, v] : u->trailers) EXPECT_FALSE(contains_ci(k, name)) << k;
        }
    }
    expect_not_wedged("trailers");
}

TEST_F(Hardening, Http10RequestWithoutHostGetsTheUpstreamsHost) {
    Client c(gw().port(), 5s);
    c.send("GET /api/public/no-host HTTP/1.0\r\n\r\n");
    auto w = read_wire_response(c, 5s);
    EXPECT_EQ(w.status(), 200u) << w.head;
    auto u = received("/api/public/no-host");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->version, "HTTP/1.1");
    EXPECT_EQ(u->count("Host"), 1u) << u->head;
    EXPECT_EQ(u->header("Host"), "127.0.0.1:" + std::to_string(up.port())) << u->head;
}

// ---- Rule 12: HTTP/1.0 clients never get chunked framing -------------------------------------

TEST_F(Hardening, Http10ClientsNeverGetChunkedFraming) {
    up.respond_with([](const RawRequest& r, std::size_t conn, std::size_t nth) {
        if (r.target.find("/chunked") != std::string::npos)
            return RawReply{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"};
        if (r.target.find("/close") != std::string::npos)
            return RawReply{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world", true};
        return RawUpstream::echo(r, conn, nth);
    });
    for (const std::string kind : {"chunked", "close"}) {
        for (const bool keep_alive : {false, true}) {
            const std::string target = "/api/public/" + kind + (keep_alive ? "-ka" : "");
            SCOPED_TRACE(target);
            Client c(gw().port(), 5s);
            c.send("GET " + target + " HTTP/1.0\r\nHost: gw\r\n" + (keep_alive ? "Connection: keep-alive\r\n" : "") +
                   "\r\n");
            auto w = read_wire_response(c, 5s);
            ASSERT_FALSE(w.head.empty()) << "no response";
            EXPECT_EQ(w.status(), 200u) << w.head;
            EXPECT_FALSE(w.header("Transfer-Encoding")) << w.head;
            EXPECT_FALSE(contains_ci(w.head, "chunked")) << w.head;
            EXPECT_TRUE(w.complete) << w.head << w.body;
            EXPECT_EQ(w.body, "hello world") << w.head;
            auto u = received(target);
            ASSERT_TRUE(u) << "the upstream never received " << target;
            if (!w.closed && w.header("Content-Length")) {
                // Kept alive with a length: the next request on it gets its own response.
                c.send("GET /api/public/http10-next HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n");
                auto n = read_wire_response(c, 5s);
                EXPECT_EQ(n.status(), 200u) << n.head;
                EXPECT_NE(n.body.find(" GET /api/public/http10-next"), std::string::npos) << n.body;
            } else if (!keep_alive) {
                EXPECT_TRUE(w.closed || closed_within(c, 3s)) << "HTTP/1.0 without keep-alive must be closed";
            }
        }
    }
    expect_not_wedged("rule12");
}

}  // namespace
}  // namespace authgate::test
