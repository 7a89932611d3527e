#include "proxy/router.h"

#include <gtest/gtest.h>

namespace authgate::proxy {
namespace {

struct PathCase {
    const char* in;
    const char* out;  // nullptr = rejected
};

TEST(NormalizePath, Table) {
    const PathCase cases[] = {
        {"/", "/"},
        {"/a/b", "/a/b"},
        {"/a/./b", "/a/b"},
        {"/a/../b", "/b"},
        {"/public/../admin/x", "/admin/x"},
        {"/../../etc/passwd", "/etc/passwd"},  // never above the root
        {"/a/b/..", "/a/"},
        {"/a/b/.", "/a/b/"},
        {"/a//b", "/a//b"},                    // empty segments are kept, not collapsed
        {"/public/%2e%2e/admin", "/admin"},    // %2e is '.'
        {"/public/%2E%2e/admin", "/admin"},
        {"/public/.%2e/admin", "/admin"},
        {"/a%2Fb", "/a%2Fb"},                  // %2F stays encoded: never a separator
        {"/a%2fb", "/a%2Fb"},                  // ...with upper-case hex
        {"/%41%7e", "/A~"},                    // unreserved characters decoded
        {"/a%20b", "/a%20b"},
        {"", nullptr},
        {"a/b", nullptr},
        {"/a%2", nullptr},
        {"/a%zz", nullptr},
        {"/a b", nullptr},
        {"/a\x01", nullptr},
        // Paths a backend could resolve differently from the gateway.
        {"/a\\..\\admin", nullptr},        // raw backslash
        {"/a%5C..%5cadmin", nullptr},         // encoded backslash
        {"/a%00b", nullptr},                  // encoded NUL and controls
        {"/a%0ab", nullptr},
        {"/a%1F", nullptr},
        {"/a%7f", nullptr},
        {"/public/..;/admin", nullptr},       // Tomcat-style ".." with parameters
        {"/public/.;/x", nullptr},
        {"/public/..;x=1/admin", nullptr},
        {"/public/%2e%2e;/admin", nullptr},
        {"/public/%2E.%3badmin", nullptr},
        {"/public/..%3B/admin", nullptr},
        {"/public/a;b=1", "/public/a;b=1"},   // parameters elsewhere are fine
        {"/public/a.;b", "/public/a.;b"},
        {"/public/...;x", "/public/...;x"},   // "..." is a name, not a dot segment
        {"/public/.well-known/x", "/public/.well-known/x"},
        {"/a%e2%82%ac", "/a%E2%82%AC"},       // non-ASCII escapes stay
        {"/caf\xc3\xa9", "/caf%C3%A9"},        // raw non-ASCII bytes are percent-encoded
        {"/\xc0\xae\xc0\xae/admin", "/%C0%AE%C0%AE/admin"},  // overlong '.' stays a name
    };
    for (const auto& c : cases) {
        auto got = normalize_path(c.in);
        if (c.out == nullptr) {
            EXPECT_FALSE(got) << c.in;
        } else {
            ASSERT_TRUE(got) << c.in;
            EXPECT_EQ(*got, c.out) << c.in;
        }
    }
}

TEST(NormalizeHost, CaseAndPort) {
    EXPECT_EQ(normalize_host("API.Example.com:8443"), "api.example.com");
    EXPECT_EQ(normalize_host("api.example.com."), "api.example.com");
    EXPECT_EQ(normalize_host("[::1]:80"), "[::1]");
    EXPECT_EQ(normalize_host("localhost"), "localhost");
    EXPECT_EQ(normalize_host(""), "");
}

TEST(PercentEncodeNonAscii, OnlyBytesAbove7F) {
    std::string out = "/p?";
    append_percent_encoding_non_ascii(out, "q=\xff&r=caf\xc3\xa9&s=%41+b");
    EXPECT_EQ(out, "/p?q=%FF&r=caf%C3%A9&s=%41+b");
}

TEST(ValidHost, NameOrAddressWithAnOptionalPort) {
    for (const char* ok : {"example.com", "example.com:443", "EXAMPLE.com:1", "x:65535", "[::1]", "[::1]:8080",
                           "127.0.0.1:80", "my_host.internal", "a-b.c"})
        EXPECT_TRUE(valid_host(ok)) << ok;
    for (const char* bad : {"", "a b", "x:0", "x:65536", "x:8a", "x:", "x:123456", "[::1", "[::1]x", "[::1]:",
                            "[]", "[::g]", "x/y", "x@y", "x?y", "x#y", "x,y", ":80", "a\tb", "x:+80", "x:-1"})
        EXPECT_FALSE(valid_host(bad)) << bad;
}

TEST(StripPrefix, SegmentBoundaries) {
    EXPECT_EQ(strip_prefix("/api/users", "/api"), "/users");
    EXPECT_EQ(strip_prefix("/api", "/api"), "/");
    EXPECT_EQ(strip_prefix("/api/", "/api/"), "/");
    EXPECT_EQ(strip_prefix("/api/users", "/api/"), "/users");
    EXPECT_EQ(strip_prefix("/apix/users", "/api"), "/apix/users");  // not a segment boundary
    EXPECT_EQ(strip_prefix("/other", "/api"), "/other");
}

config::Route make(std::string name, std::string prefix, std::string exact = "", std::vector<std::string> methods = {},
                   std::string host = "") {
    config::Route r;
    r.name = std::move(name);
    r.match.path_prefix = std::move(prefix);
    r.match.path = std::move(exact);
    r.match.methods = std::move(methods);
    r.match.host = std::move(host);
    return r;
}

TEST(Router, FirstMatchWins) {
    Router router({make("public", "/api/public/"), make("api", "/api/"), make("exact", "", "/health"),
                   make("posts", "/posts", "", {"POST", "PUT"}), make("tenant", "/t/", "", {}, "a.example.com"),
                   make("all", "")});
    EXPECT_EQ(router.match("GET", "x", "/api/public/a"), 0u);
    EXPECT_EQ(router.match("GET", "x", "/api/orders"), 1u);
    EXPECT_EQ(router.match("GET", "x", "/health"), 2u);
    EXPECT_EQ(router.match("GET", "x", "/health/deep"), 5u);
    EXPECT_EQ(router.match("POST", "x", "/posts/1"), 3u);
    EXPECT_EQ(router.match("GET", "x", "/posts/1"), 5u);
    EXPECT_EQ(router.match("GET", "a.example.com", "/t/1"), 4u);
    EXPECT_EQ(router.match("GET", "b.example.com", "/t/1"), 5u);
}

TEST(Router, NoMatch) {
    Router router({make("api", "/api/")});
    EXPECT_FALSE(router.match("GET", "x", "/other"));
    EXPECT_FALSE(router.match("GET", "x", "/api"));  // the prefix is "/api/"
}

}  // namespace
}  // namespace authgate::proxy
