// Scalar grammar: durations, sizes, ${ENV} expansion and the text-level parsers.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/syntax.h"
#include "config_test_util.h"

namespace authgate::config {
namespace {

using namespace std::chrono_literals;
using test::ScopedEnv;

TEST(ParseDuration, SingleUnits) {
    EXPECT_EQ(parse_duration("250ms"), Duration(250));
    EXPECT_EQ(parse_duration("30s"), Duration(30s));
    EXPECT_EQ(parse_duration("5m"), Duration(5min));
    EXPECT_EQ(parse_duration("24h"), Duration(24h));
    EXPECT_EQ(parse_duration("0s"), Duration(0));
}

TEST(ParseDuration, IntegerMeansSeconds) {
    EXPECT_EQ(parse_duration("30"), Duration(30s));
    EXPECT_EQ(parse_duration("0"), Duration(0));
    EXPECT_EQ(parse_duration("86400"), Duration(24h));
}

TEST(ParseDuration, Combinations) {
    EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
    EXPECT_EQ(parse_duration("1m30s"), Duration(90s));
    EXPECT_EQ(parse_duration("1s500ms"), Duration(1500));
    EXPECT_EQ(parse_duration("2h3m4s5ms"), Duration(2h + 3min + 4s + 5ms));
}

TEST(ParseDuration, RejectsMalformed) {
    for (const char* bad : {"", "s", "ms", "-5s", "-1", "1.5s", "5 s", " 5s", "5s ", "5x", "5sec", "1h30", "h1",
                            "30m5h", "5s5s", "1ms1s", "+5s", "5S", "0x10"})
        EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
}

TEST(ParseDuration, RejectsOverflow) {
    EXPECT_EQ(parse_duration("99999999999999999999s"), std::nullopt);  // > uint64
    EXPECT_EQ(parse_duration("9223372036854775807"), std::nullopt);    // seconds * 1000 > int64
    EXPECT_EQ(parse_duration("3000000000000h"), std::nullopt);
    EXPECT_EQ(parse_duration("2562047788015h59m"), std::nullopt);      // sum overflows
    EXPECT_EQ(parse_duration("9223372036854775807ms"), Duration(Duration::max()));
}

TEST(ParseSize, BytesAndUnits) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("1234"), 1234u);
    EXPECT_EQ(parse_size("100B"), 100u);
    EXPECT_EQ(parse_size("16KiB"), 16u * 1024);
    EXPECT_EQ(parse_size("10MiB"), 10u * 1024 * 1024);
    EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
    EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
    EXPECT_EQ(parse_size("512KB"), 512000u);
    EXPECT_EQ(parse_size("3MB"), 3000000u);
    EXPECT_EQ(parse_size("1GB"), 1000000000u);
    EXPECT_EQ(parse_size("16 KiB"), 16u * 1024);
}

TEST(ParseSize, RejectsMalformedNegativeAndOverflow) {
    for (const char* bad : {"", "KiB", "-1", "-16KiB", "1.5MiB", "16kib", "16K", "16 ", "16  KiB", "16XB", "+1"})
        EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
    EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);  // 2^64
    EXPECT_EQ(parse_size("17179869184GiB"), std::nullopt);        // 2^34 * 2^30
    EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(ExpandEnv, ReplacesSetVariables) {
    ScopedEnv a("AG_UNIT_A", "alpha");
    ScopedEnv b("AG_UNIT_B", "beta");
    std::string missing;
    EXPECT_EQ(expand_env("${AG_UNIT_A}", missing), "alpha");
    EXPECT_EQ(expand_env("x-${AG_UNIT_A}-${AG_UNIT_B}-y", missing), "x-alpha-beta-y");
    EXPECT_EQ(expand_env("no references", missing), "no references");
    EXPECT_TRUE(missing.empty());
}

TEST(ExpandEnv, DefaultsApplyWhenUnsetOrEmpty) {
    ScopedEnv unset("AG_UNIT_UNSET", nullptr);
    ScopedEnv empty("AG_UNIT_EMPTY", "");
    ScopedEnv set("AG_UNIT_SET", "value");
    std::string missing;
    EXPECT_EQ(expand_env("${AG_UNIT_UNSET:-fallback}", missing), "fallback");
    EXPECT_EQ(expand_env("${AG_UNIT_EMPTY:-fallback}", missing), "fallback");
    EXPECT_EQ(expand_env("${AG_UNIT_SET:-fallback}", missing), "value");
    EXPECT_EQ(expand_env("${AG_UNIT_UNSET:-}", missing), "");
    EXPECT_EQ(expand_env("${AG_UNIT_UNSET:-a:b-c}", missing), "a:b-c");
    EXPECT_EQ(expand_env("${AG_UNIT_EMPTY}", missing), "");  // set but empty is not missing
    EXPECT_TRUE(missing.empty());
}

TEST(ExpandEnv, MissingVariableIsReported) {
    ScopedEnv unset("AG_UNIT_MISSING", nullptr);
    std::string missing;
    EXPECT_EQ(expand_env("before ${AG_UNIT_MISSING} after", missing), std::nullopt);
    EXPECT_EQ(missing, "AG_UNIT_MISSING");
}

TEST(ExpandEnv, NonReferencesStayLiteral) {
    std::string missing;
    EXPECT_EQ(expand_env("$HOME", missing), "$HOME");
    EXPECT_EQ(expand_env("cost: $5", missing), "cost: $5");
    EXPECT_EQ(expand_env("${unterminated", missing), "${unterminated");
    EXPECT_EQ(expand_env("^a${2}$", missing), "^a${2}$");  // not a variable name
    EXPECT_EQ(expand_env("${}", missing), "${}");
    EXPECT_TRUE(missing.empty());
}

TEST(ExpandEnv, ValuesAreNotReexpanded) {
    ScopedEnv a("AG_UNIT_NESTED", "${AG_UNIT_OTHER}");
    std::string missing;
    EXPECT_EQ(expand_env("${AG_UNIT_NESTED}", missing), "${AG_UNIT_OTHER}");
}

TEST(Syntax, EditDistanceAndClosest) {
    using syntax::closest;
    using syntax::edit_distance;
    EXPECT_EQ(edit_distance("listen", "listen"), 0u);
    EXPECT_EQ(edit_distance("listn", "listen"), 1u);
    EXPECT_EQ(edit_distance("lsiten", "listen"), 2u);
    EXPECT_EQ(edit_distance("", "abc"), 3u);
    std::vector<std::string> keys{"listen", "workers", "tls", "limits", "timeouts"};
    EXPECT_EQ(closest("listn", keys), "listen");
    EXPECT_EQ(closest("timeout", keys), "timeouts");
    EXPECT_EQ(closest("frobnicate", keys), "");
    EXPECT_EQ(closest("ab", {"tls"}), "");  // too short to be a plausible typo of it
}

TEST(Syntax, Tokens) {
    EXPECT_TRUE(syntax::is_token("X-User-Id"));
    EXPECT_TRUE(syntax::is_token("GET"));
    EXPECT_FALSE(syntax::is_token(""));
    EXPECT_FALSE(syntax::is_token("X User"));
    EXPECT_FALSE(syntax::is_token("X-User:"));
    EXPECT_FALSE(syntax::is_token("caf\xc3\xa9"));
}

TEST(Syntax, ListenAddresses) {
    std::string why;
    auto a = syntax::parse_listen("0.0.0.0:8080", why);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "0.0.0.0");
    EXPECT_EQ(a->port, 8080);
    auto v6 = syntax::parse_listen("[::1]:0", why);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 0);
    EXPECT_TRUE(syntax::parse_listen("127.0.0.1:65535", why));
    EXPECT_TRUE(syntax::parse_listen("[::]:80", why));
    EXPECT_TRUE(syntax::parse_listen("[fe80::1%eth0]:80", why));
    for (const char* bad : {"8080", ":8080", "host:", "host:65536", "host:-1", "host:http", "::1:8080", "[::1]8080",
                            "[::1", "[zz]:80", "ho st:80", "a/b:80", "1.2.3:80", "256.0.0.1:80", "0.0.0.0.0:80"})
        EXPECT_FALSE(syntax::parse_listen(bad, why)) << bad;
}

// The server binds an address; it never resolves a name (as Envoy's listeners).
TEST(Syntax, ListenHostMustBeAnAddress) {
    std::string why;
    EXPECT_FALSE(syntax::parse_listen("myhost:8080", why));
    EXPECT_EQ(why, "'myhost' is not an IP address: listen on an address such as 0.0.0.0 (every IPv4 interface), "
                   "[::] (every interface) or 127.0.0.1 (loopback only)");
    EXPECT_FALSE(syntax::parse_listen("localhost:8080", why));
    EXPECT_EQ(why, "'localhost' is a name, not an address: write 127.0.0.1 (or [::1])");
    // The port is checked first: its message is the more specific one.
    EXPECT_FALSE(syntax::parse_listen("localhost:http", why));
    EXPECT_EQ(why, "invalid port 'http' (expected 0-65535)");
}

TEST(Syntax, ListenOverlaps) {
    auto overlaps = [](const char* a, const char* b) {
        std::string why;
        return syntax::listen_overlaps(*syntax::parse_listen(a, why), *syntax::parse_listen(b, why));
    };
    EXPECT_TRUE(overlaps("127.0.0.1:9901", "127.0.0.1:9901"));
    EXPECT_TRUE(overlaps("0.0.0.0:9901", "127.0.0.1:9901"));
    EXPECT_TRUE(overlaps("127.0.0.1:9901", "0.0.0.0:9901"));
    EXPECT_TRUE(overlaps("[::]:9901", "127.0.0.1:9901"));  // dual-stack
    EXPECT_TRUE(overlaps("[::]:9901", "0.0.0.0:9901"));
    EXPECT_TRUE(overlaps("[::1]:9901", "[::]:9901"));
    EXPECT_FALSE(overlaps("0.0.0.0:9901", "[::1]:9901"));  // an IPv4 wildcard leaves IPv6 alone
    EXPECT_FALSE(overlaps("127.0.0.1:9901", "127.0.0.2:9901"));
    EXPECT_FALSE(overlaps("127.0.0.1:9901", "127.0.0.1:9902"));
    EXPECT_FALSE(overlaps("127.0.0.1:0", "127.0.0.1:0"));  // each gets its own ephemeral port
}

TEST(Syntax, Endpoints) {
    std::string why;
    auto http = syntax::parse_endpoint("http://127.0.0.1", why);
    ASSERT_TRUE(http);
    EXPECT_EQ(http->scheme, "http");
    EXPECT_EQ(http->port, 80);
    auto https = syntax::parse_endpoint("HTTPS://api.internal/", why);
    ASSERT_TRUE(https);
    EXPECT_EQ(https->scheme, "https");
    EXPECT_EQ(https->host, "api.internal");
    EXPECT_EQ(https->port, 443);
    auto v6 = syntax::parse_endpoint("http://[::1]:9000", why);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 9000);
    auto named = syntax::parse_endpoint("http://app_1.internal:8080/", why);
    ASSERT_TRUE(named);
    EXPECT_EQ(named->host, "app_1.internal");  // docker-compose service names have '_'
    EXPECT_EQ(named->port, 8080);
    for (const char* bad : {"127.0.0.1:9000", "ftp://host", "http://", "http://host/path", "http://host?q=1",
                            "http://host#f", "http://user@host", "http://host:0", "http://host:99999", "http://::1:80"})
        EXPECT_FALSE(syntax::parse_endpoint(bad, why)) << bad;
}

// What each malformed endpoint is told; Boost.URL decides validity, these say where.
TEST(Syntax, EndpointErrors) {
    const std::pair<const char*, const char*> cases[] = {
        {"https://", "missing host"},
        {"http:///x", "missing host"},
        {"https://host:99999", "invalid port '99999' (expected 1-65535)"},
        {"https://host:0", "invalid port '0' (expected 1-65535)"},
        {"http://host:", "invalid port '' (expected 1-65535)"},
        {"http://host:abc", "invalid port 'abc' (expected 1-65535)"},
        {"https://user@host", "must not contain user info"},
        {"https://[::1", "missing ']' after IPv6 address"},
        {"https://[::zz]:80", "invalid IPv6 address '::zz'"},
        {"http://[fe80::1%eth0]:80", "invalid IPv6 address 'fe80::1%eth0' (zone ids are not supported here)"},
        {"ftp://x", "must start with http:// or https://"},
        {"http:host", "must start with http:// or https://"},
        {"app:8080", "must start with http:// or https://"},
        {"http://ho st", "spaces and control characters must be percent-encoded"},
        {"http://caf\xc3\xa9.example", "non-ASCII characters must be percent-encoded"},
        {"http://h%41st", "a host may contain only letters, digits, '-', '.' and '_'"},
        {"http://host/api", "endpoint must not have a path, query or fragment"},
    };
    for (const auto& [text, message] : cases) {
        std::string why;
        EXPECT_FALSE(syntax::parse_endpoint(text, why)) << text;
        EXPECT_NE(why.find(message), std::string::npos) << text << ": " << why;
    }
}

// The JWKS fetcher connects with what this returns; the loader refuses what it refuses.
TEST(Syntax, HttpUrls) {
    std::string why;
    auto u = syntax::parse_http_url("https://auth.example.com/.well-known/jwks.json", why);
    ASSERT_TRUE(u) << why;
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "auth.example.com");
    EXPECT_EQ(u->port, "443");
    EXPECT_EQ(u->target, "/.well-known/jwks.json");
    u = syntax::parse_http_url("http://127.0.0.1:8080", why);
    ASSERT_TRUE(u) << why;
    EXPECT_FALSE(u->tls);
    EXPECT_EQ(u->port, "8080");
    EXPECT_EQ(u->target, "/");
    u = syntax::parse_http_url("http://[::1]:9000/k?x=1#frag", why);
    ASSERT_TRUE(u) << why;
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->target, "/k?x=1");
    u = syntax::parse_http_url("HTTPS://issuer?tenant=a", why);
    ASSERT_TRUE(u) << why;
    EXPECT_EQ(u->port, "443");
    EXPECT_EQ(u->target, "/?tenant=a");
    const std::pair<const char*, const char*> bad[] = {
        {"ftp://x/", "must start with http:// or https://"},
        {"https://", "missing host"},
        {"http:///path", "missing host"},
        {"https://user@host/", "must not contain user info"},
        {"http://host:abc/", "invalid port 'abc' (expected 1-65535)"},
        {"https://host:99999/x", "invalid port '99999' (expected 1-65535)"},
        {"https://[::1/x", "missing ']' after IPv6 address"},
        {"https://host/a b", "spaces and control characters must be percent-encoded"},
    };
    for (const auto& [text, message] : bad) {
        EXPECT_FALSE(syntax::parse_http_url(text, why)) << text;
        EXPECT_EQ(why, message) << text;
    }
}

TEST(Syntax, RouteHost) {
    std::string why;
    EXPECT_EQ(syntax::normalize_route_host("API.Example.COM:8443", why), "api.example.com");
    EXPECT_EQ(syntax::normalize_route_host("example.com", why), "example.com");
    EXPECT_EQ(syntax::normalize_route_host("[::1]:8080", why), "[::1]");
    EXPECT_FALSE(syntax::normalize_route_host("exa mple.com", why));
    EXPECT_FALSE(syntax::normalize_route_host("example.com:port", why));
}

}  // namespace
}  // namespace authgate::config
