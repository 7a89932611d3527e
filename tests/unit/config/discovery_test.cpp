// jwt.providers.P.discovery / discovery_url, keys.jwks_cache_file / max_stale and
// jwt.key_cache_dir: what the loader accepts, what it derives and where it says no.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace authgate::config {
namespace {

using namespace std::chrono_literals;
using test::has_error;
using test::has_warning;
using test::load;
using test::loaded_ok;
using test::TempDir;

TEST(Discovery, UrlComesFromTheIssuerWithoutItsTrailingSlash) {
    auto l = load(R"(jwt:
  providers:
    corp:
      issuer: https://login.example/tenant/
      algorithms: [RS256]
      discovery: true
)");
    ASSERT_TRUE(loaded_ok(l));
    const auto& p = l.cfg->jwt.providers.front();
    EXPECT_TRUE(p.discovery);
    EXPECT_EQ(p.discovery_url, "https://login.example/tenant/.well-known/openid-configuration");
    EXPECT_EQ(p.remote_source(), p.discovery_url);  // no keys section needed
    for (const auto& w : l.diag.warnings()) EXPECT_EQ(w.find("plain http"), std::string::npos) << w;
}

TEST(Discovery, ExplicitUrlAndPlainHttpWarning) {
    auto l = load(R"(jwt:
  providers:
    corp:
      issuer: http://idp.internal
      algorithms: [RS256]
      discovery_url: http://idp.internal/custom/openid-configuration
      keys:
        jwks_refresh: 1m
)");
    ASSERT_TRUE(loaded_ok(l));
    const auto& p = l.cfg->jwt.providers.front();
    EXPECT_TRUE(p.discovery);
    EXPECT_EQ(p.discovery_url, "http://idp.internal/custom/openid-configuration");
    EXPECT_EQ(p.keys.jwks_refresh, 1min);
    EXPECT_TRUE(has_warning(l, 6, 22, "jwt.providers.corp.discovery_url: keys fetched over plain http can be tampered with"));
}

TEST(Discovery, NeedsExactlyOneIssuer) {
    auto l = load(R"(jwt:
  providers:
    none:
      algorithms: [RS256]
      discovery: true
    two:
      issuer: [https://a.example, https://b.example]
      algorithms: [RS256]
      discovery_url: https://a.example/.well-known/openid-configuration
)");
    EXPECT_FALSE(l.cfg);
    ASSERT_EQ(l.diag.errors().size(), 2u) << test::dump(l.diag.errors());  // not also "missing keys"
    EXPECT_TRUE(has_error(l, 5, 18, "jwt.providers.none.discovery: discovery needs exactly one issuer"));
    EXPECT_TRUE(has_error(l, 9, 22, "jwt.providers.two.discovery_url: discovery needs exactly one issuer (the discovery document must name it), got 2"));
}

TEST(Discovery, OneRemoteSourceAndAUsableUrl) {
    auto l = load(R"(jwt:
  providers:
    both:
      issuer: https://a.example
      algorithms: [RS256]
      discovery: true
      keys:
        jwks_url: https://a.example/jwks
    bad:
      issuer: https://a.example
      algorithms: [RS256]
      discovery_url: ftp://a.example/x
    off:
      issuer: https://a.example
      algorithms: [RS256]
      discovery: false
      discovery_url: https://a.example/x
    issuer_not_url:
      issuer: corp
      algorithms: [RS256]
      discovery: true
)");
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_error(l, 6, 18, "jwt.providers.both.discovery: discovery and keys.jwks_url are two remote key sources; keep one"));
    EXPECT_TRUE(has_error(l, 12, 22, "invalid discovery_url 'ftp://a.example/x': must start with http:// or https://"));
    EXPECT_TRUE(has_error(l, 16, 18, "jwt.providers.off.discovery: discovery is false, but discovery_url is set; remove one"));
    EXPECT_TRUE(has_error(l, 21, 18, "issuer 'corp' gives no usable discovery URL: must start with http:// or https://"));
}

TEST(KeyCache, FileResolvedLikeOtherFilesAndItsDirectoryMustExist) {
    TempDir dir;
    dir.write("conf/state/.keep", "");
    const std::string file = (dir.path() / "conf/gateway.yaml").string();
    auto l = load(R"(jwt:
  providers:
    corp:
      algorithms: [RS256]
      keys:
        jwks_url: https://a.example/jwks
        jwks_cache_file: state/corp.jwks.json
        max_stale: 1d12h
    missing_dir:
      algorithms: [RS256]
      keys:
        jwks_url: https://a.example/jwks
        jwks_cache_file: nowhere/corp.jwks.json
)",
                  file);
    EXPECT_TRUE(has_error(l, 13, 26, "jwt.providers.missing_dir.keys.jwks_cache_file: directory not found: " +
                                         (dir.path() / "conf/nowhere").string(),
                          file));
    ASSERT_EQ(l.diag.errors().size(), 1u) << test::dump(l.diag.errors());

    auto ok = load(R"(jwt:
  providers:
    corp:
      algorithms: [RS256]
      keys:
        jwks_url: https://a.example/jwks
        jwks_cache_file: state/corp.jwks.json
        max_stale: 1d12h
)",
                   file);
    ASSERT_TRUE(loaded_ok(ok));
    const auto& k = ok.cfg->jwt.providers.front().keys;
    EXPECT_EQ(k.jwks_cache_file, (dir.path() / "conf/state/corp.jwks.json").string());
    EXPECT_EQ(k.max_stale, 36h);
    EXPECT_EQ(JwtKeys{}.max_stale, 7 * 24h);  // the default
}

TEST(KeyCache, NeedsARemoteSource) {
    auto l = load(R"(jwt:
  providers:
    corp:
      algorithms: [HS256]
      keys:
        secret: a-secret-that-is-long-enough-for-hs256!!
        jwks_cache_file: /tmp/corp.jwks.json
        max_stale: 0s
)");
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_error(l, 7, 26, "jwt.providers.corp.keys.jwks_cache_file: a cache file needs a remote key source"));
    EXPECT_TRUE(has_error(l, 8, 20, "jwt.providers.corp.keys.max_stale: must be greater than 0"));
}

TEST(KeyCache, DirectoryNamesAFileForEveryRemoteProvider) {
    TempDir dir;
    dir.write("cache/.keep", "");
    const std::string file = (dir.path() / "gateway.yaml").string();
    auto l = load(R"(jwt:
  key_cache_dir: cache
  providers:
    static:
      algorithms: [HS256]
      keys:
        secret: a-secret-that-is-long-enough-for-hs256!!
    remote:
      algorithms: [RS256]
      keys:
        jwks_url: https://a.example/jwks
    own:
      algorithms: [RS256]
      keys:
        jwks_url: https://b.example/jwks
        jwks_cache_file: /tmp/own.jwks.json
    oidc:
      issuer: https://c.example
      algorithms: [RS256]
      discovery: true
)",
                  file);
    ASSERT_TRUE(loaded_ok(l));
    const auto& ps = l.cfg->jwt.providers;
    EXPECT_EQ(l.cfg->jwt.key_cache_dir, (dir.path() / "cache").string());
    EXPECT_FALSE(ps[0].keys.jwks_cache_file);  // static keys: nothing to cache
    EXPECT_EQ(ps[1].keys.jwks_cache_file, (dir.path() / "cache/remote.jwks.json").string());
    EXPECT_EQ(ps[2].keys.jwks_cache_file, "/tmp/own.jwks.json");  // its own file wins
    EXPECT_EQ(ps[3].keys.jwks_cache_file, (dir.path() / "cache/oidc.jwks.json").string());

    auto missing = load("jwt:\n  key_cache_dir: /nonexistent/authgate-cache\n  providers: {}\n");
    EXPECT_TRUE(has_error(missing, 2, 18, "jwt.key_cache_dir: directory not found: /nonexistent/authgate-cache"));

    auto odd = load(R"(jwt:
  key_cache_dir: /tmp
  providers:
    "a/b":
      algorithms: [RS256]
      keys:
        jwks_url: https://a.example/jwks
)");
    EXPECT_TRUE(has_error(odd, 2, 18, "jwt provider 'a/b' cannot name a file in key_cache_dir; set its keys.jwks_cache_file"));
}

TEST(Durations, DaysComeFirst) {
    EXPECT_EQ(parse_duration("7d"), Duration(7 * 24h));
    EXPECT_EQ(parse_duration("1d2h3m"), Duration(26h + 3min));
    EXPECT_FALSE(parse_duration("2h1d"));  // largest first
    EXPECT_FALSE(parse_duration("1d1d"));
}

}  // namespace
}  // namespace authgate::config
