// OpenID Connect discovery and the key cache file: the document parser, the cache file
// format and its atomic write, and the fetcher using both against a local issuer (plain
// http here; over TLS in jwks_https_test.cpp). Bounded waits, never sleeps.
#include "jwt/oidc_discovery.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "jwks_server.h"
#include "jwt/jwks_fetcher.h"
#include "jwt/key_cache_file.h"
#include "remote_provider_test.h"

namespace authgate::jwt {
namespace {
using namespace test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kIssuer = "https://issuer.example";

// ---------------------------------------------------------------- the document

TEST(DiscoveryDocument, NamesTheJwksUri) {
    const auto r = parse_discovery(openid_configuration(kIssuer, "https://issuer.example/keys"), kIssuer, true);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.jwks_uri, "https://issuer.example/keys");
}

TEST(DiscoveryDocument, IssuerMustMatchExactly) {
    // Section 4.3: not even a trailing slash is forgiven.
    for (const std::string& other : {kIssuer + "/", std::string("https://ISSUER.example"), std::string("https://evil.example")}) {
        const auto r = parse_discovery(openid_configuration(other, "https://issuer.example/keys"), kIssuer, true);
        EXPECT_FALSE(r.ok) << other;
        EXPECT_NE(r.error.find("issuer mismatch: the document names '" + other + "', the config '" + kIssuer + "'"),
                  std::string::npos)
            << r.error;
    }
}

TEST(DiscoveryDocument, RefusesWhatTheFetcherCannotUse) {
    const auto refused = [](const std::string& doc, bool tls = true) {
        const auto r = parse_discovery(doc, kIssuer, tls);
        EXPECT_FALSE(r.ok) << doc;
        return r.error;
    };
    EXPECT_EQ(refused("not json"), "not valid JSON: syntax error");
    EXPECT_EQ(refused("[1]"), "not a JSON object");
    EXPECT_EQ(refused(R"({"jwks_uri":"https://issuer.example/keys"})"), "no \"issuer\" string");
    EXPECT_EQ(refused(R"({"issuer":1,"jwks_uri":"https://issuer.example/keys"})"), "no \"issuer\" string");
    EXPECT_EQ(refused(R"({"issuer":"https://issuer.example"})"), "no \"jwks_uri\" string");
    EXPECT_EQ(refused(R"({"issuer":"https://issuer.example","jwks_uri":["x"]})"), "no \"jwks_uri\" string");
    EXPECT_EQ(refused(openid_configuration(kIssuer, "ftp://issuer.example/keys")),
              "invalid jwks_uri 'ftp://issuer.example/keys': must start with http:// or https://");
    EXPECT_EQ(refused(openid_configuration(kIssuer, "https://user:pw@issuer.example/keys")).rfind("invalid jwks_uri", 0), 0u);
    // Downgrade: an https document may not send the fetcher to plain http.
    EXPECT_EQ(refused(openid_configuration(kIssuer, "http://issuer.example/keys")),
              "jwks_uri 'http://issuer.example/keys' is plain http, but the document came over https");
    EXPECT_TRUE(parse_discovery(openid_configuration(kIssuer, "http://issuer.example/keys"), kIssuer, false).ok);
    EXPECT_EQ(refused(std::string(kMaxDiscoveryBytes + 1, ' ')), "document too large");
}

// ---------------------------------------------------------------- the cache file

// A fresh directory, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        for (int i = 0;; ++i) {
            path_ = fs::temp_directory_path() / ("authgate-keycache-" + std::to_string(::getpid()) + "-" + std::to_string(i));
            if (fs::create_directory(path_)) break;
        }
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
        return out;
    }

private:
    fs::path path_;
};

const std::string& jwks_k1() {
    static const std::string body = jwks_json({jwk_for("rsa", "k1")});
    return body;
}

std::string cache_doc(const std::string& source, std::chrono::system_clock::time_point at,
                      const std::string& jwks = jwks_k1()) {
    auto doc = format_key_cache(source, source, at, jwks);
    EXPECT_TRUE(doc);
    return doc.value_or("");
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
}

TEST(KeyCacheFile, RoundTrip) {
    const auto now = std::chrono::system_clock::now();
    const auto fetched = std::chrono::time_point_cast<std::chrono::seconds>(now - 1h);
    const auto doc = format_key_cache("https://i.example/.well-known/openid-configuration", "https://i.example/keys",
                                      fetched, jwks_k1());
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->rfind(R"({"authgate_jwks_cache":1,"source":"https://i.example/.well-known/openid-configuration",)", 0), 0u)
        << *doc;
    const auto r = parse_key_cache(*doc, "https://i.example/.well-known/openid-configuration", 7 * 24h, now);
    ASSERT_TRUE(r.keys) << r.error;
    EXPECT_EQ(r.keys->keys.size(), 1u);
    EXPECT_EQ(r.keys->keys.front()->kid(), "k1");
    EXPECT_EQ(r.keys->jwks_uri, "https://i.example/keys");
    EXPECT_EQ(r.keys->fetched_at, fetched);
    EXPECT_FALSE(format_key_cache("s", "u", now, "not json"));
}

TEST(KeyCacheFile, RefusesWhatCannotBeTrusted) {
    const std::string src = "https://i.example/jwks";
    const auto now = std::chrono::system_clock::now();
    const auto refused = [&](const std::string& text, std::chrono::milliseconds max_stale = 7 * 24h) {
        const auto r = parse_key_cache(text, src, max_stale, now);
        EXPECT_FALSE(r.keys) << text;
        return r.error;
    };
    EXPECT_EQ(refused("{truncated").rfind("not valid JSON", 0), 0u);
    EXPECT_EQ(refused(jwks_k1()), "not an authgate key cache file");  // a bare JWKS is not a cache file
    EXPECT_EQ(refused(R"({"authgate_jwks_cache":2})"), "unsupported key cache version 2");
    EXPECT_EQ(refused(R"({"authgate_jwks_cache":1,"source":")" + src + R"("})"),
              "missing or malformed source, jwks_uri, fetched_at or jwks");
    EXPECT_EQ(refused(cache_doc("https://other.example/jwks", now)),
              "foreign file: its keys come from https://other.example/jwks, not " + src);
    EXPECT_EQ(refused(cache_doc(src, now + 1h)), "fetched_at is in the future");
    EXPECT_TRUE(parse_key_cache(cache_doc(src, now + 30s), src, 7 * 24h, now).keys);  // clock skew
    EXPECT_EQ(refused(cache_doc(src, now - 8 * 24h)), "stale: fetched 192h ago, more than max_stale");
    EXPECT_EQ(refused(cache_doc(src, now - 2h), 1h), "stale: fetched 2h ago, more than max_stale");
    EXPECT_EQ(refused(cache_doc(src, now, R"({"keys":[]})")), "no usable signing key in the cached set");
    EXPECT_EQ(refused(cache_doc(src, now, R"({"nokeys":1})")), "JWKS has no \"keys\" array");
}

TEST(KeyCacheFile, MissingFileIsNoError) {
    TempDir dir;
    const auto r = read_key_cache(dir.file("none.jwks.json"), "s", 1h, std::chrono::system_clock::now());
    EXPECT_FALSE(r.keys);
    EXPECT_EQ(r.error, "");
}

TEST(KeyCacheFile, AtomicWriteIsPrivateAndLeavesNoTemporaryFile) {
    TempDir dir;
    const std::string path = dir.file("corp.jwks.json");
    const mode_t old_umask = ::umask(0);  // even a permissive umask gives 0600
    EXPECT_EQ(write_file_atomically(path, "first"), "");
    EXPECT_EQ(mode_of(path), 0600u);
    EXPECT_EQ(write_file_atomically(path, "second"), "");
    ::umask(old_umask);
    EXPECT_EQ(mode_of(path), 0600u);
    std::ifstream in(path);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "second");
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"corp.jwks.json"});

    const auto error = write_file_atomically(dir.file("missing/corp.jwks.json"), "x");
    EXPECT_EQ(error.rfind("cannot create a temporary file in " + dir.file("missing"), 0), 0u) << error;
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"corp.jwks.json"});
}

// ---------------------------------------------------------------- the fetcher

class DiscoveryFetcherTest : public RemoteProviderTest {
protected:
    // A provider of issuer.origin() with discovery, refreshed every `refresh`.
    void make_discovery(config::Duration refresh, std::optional<std::string> cache_file = std::nullopt,
                        std::string issuer_name = {}) {
        if (issuer_name.empty()) issuer_name = issuer_.origin();
        make(issuer_.url(kOpenIdConfigurationPath), refresh, [&](config::JwtProvider& c) {
            c.keys.jwks_url.reset();
            c.discovery = true;
            c.discovery_url = issuer_.url(kOpenIdConfigurationPath);
            c.issuers = {issuer_name};
            c.keys.jwks_cache_file = cache_file;
        });
    }
    void publish_document(const std::string& jwks_path) {
        issuer_.set(kOpenIdConfigurationPath, openid_configuration(issuer_.origin(), issuer_.url(jwks_path)));
    }
    AuthOutcome call_as_issuer(const std::string& kid, const std::string& which = "rsa") {
        return call(rsa_token_from(issuer_.origin(), kid, which));
    }
    void TearDown() override {
        RemoteProviderTest::TearDown();
        issuer_.stop();
    }

    JwksServer issuer_;
    TempDir dir_;
};

TEST_F(DiscoveryFetcherTest, HappyPath) {
    publish_document("/keys");
    issuer_.set("/keys", jwks_k1());
    make_discovery(1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    const auto st = provider_->jwks_stats();
    EXPECT_EQ(st.successes, 1u);
    EXPECT_EQ(st.discovery_successes, 1u);
    EXPECT_EQ(st.jwks_uri, issuer_.url("/keys"));
    EXPECT_EQ(st.source, KeySource::fetched);
    EXPECT_EQ(issuer_.requests(kOpenIdConfigurationPath), 1);
    EXPECT_EQ(issuer_.requests("/keys"), 1);
    EXPECT_EQ(call_as_issuer("k1").status, Status::ok);
}

TEST_F(DiscoveryFetcherTest, IssuerMismatchGivesNoKeys) {
    issuer_.set(kOpenIdConfigurationPath, openid_configuration("https://evil.example", issuer_.url("/keys")));
    issuer_.set("/keys", jwks_k1());
    make_discovery(1h);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    const auto st = provider_->jwks_stats();
    EXPECT_EQ(st.failures, 1u);
    EXPECT_EQ(st.discovery_failures, 1u);
    EXPECT_EQ(st.jwks_uri, "");
    // What the warning says (the fetcher logs this very text).
    EXPECT_EQ(st.last_error, "discovery document: issuer mismatch: the document names 'https://evil.example', the config '" +
                                 issuer_.origin() + "'");
    EXPECT_FALSE(provider_->ever_fetched());
    EXPECT_EQ(issuer_.requests("/keys"), 0);  // the keys of a document we refused are never fetched
    const auto out = call_as_issuer("k1");
    EXPECT_EQ(out.action, AuthOutcome::Action::unavailable);
    EXPECT_EQ(out.status, Status::keys_unavailable);
}

TEST_F(DiscoveryFetcherTest, JwksUriMovedBetweenRefreshes) {
    publish_document("/keys/a");
    issuer_.set("/keys/a", jwks_k1());
    make_discovery(20ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    ASSERT_EQ(call_as_issuer("k1").status, Status::ok);

    // The issuer rotates to a new key behind a new URI; the old one still answers with
    // the old set, so only the new URI can bring k2.
    issuer_.set("/keys/b", jwks_json({jwk_for("rsa2", "k2")}));
    publish_document("/keys/b");
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().jwks_uri == issuer_.url("/keys/b"); }));
    ASSERT_TRUE(eventually([&] { return call_as_issuer("k2", "rsa2").status == Status::ok; }));
    EXPECT_GE(issuer_.requests("/keys/b"), 1);
    EXPECT_EQ(call_as_issuer("k1").status, Status::unknown_kid);  // the old set is gone
}

TEST_F(DiscoveryFetcherTest, FailedDiscoveryKeepsTheLastGoodSet) {
    publish_document("/keys");
    issuer_.set("/keys", jwks_k1());
    make_discovery(20ms);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    issuer_.set(kOpenIdConfigurationPath, "oops", 500);
    const auto before = provider_->jwks_stats();
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().discovery_failures >= before.discovery_failures + 2; }));
    EXPECT_EQ(provider_->jwks_stats().last_error, "discovery document: HTTP status 500");
    EXPECT_EQ(call_as_issuer("k1").status, Status::ok);
}

TEST_F(DiscoveryFetcherTest, EveryGoodFetchIsWrittenToTheCacheFile) {
    const std::string cache = dir_.file("remote.jwks.json");
    publish_document("/keys");
    issuer_.set("/keys", jwks_k1());
    make_discovery(1h, cache);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    ASSERT_EQ(provider_->jwks_stats().successes, 1u);
    set_->stop();  // the write happens before the attempt is counted; nothing runs after stop
    EXPECT_EQ(dir_.entries(), std::vector<std::string>{"remote.jwks.json"});  // no temporary file left
    EXPECT_EQ(mode_of(cache), 0600u);
    const auto r = read_key_cache(cache, issuer_.url(kOpenIdConfigurationPath), 1h, std::chrono::system_clock::now());
    ASSERT_TRUE(r.keys) << r.error;
    EXPECT_EQ(r.keys->jwks_uri, issuer_.url("/keys"));
    EXPECT_EQ(r.keys->keys.front()->kid(), "k1");
}

TEST_F(DiscoveryFetcherTest, IssuerDownAtStartServesFromTheCacheFileUntilItIsBack) {
    const std::string cache = dir_.file("remote.jwks.json");
    ASSERT_EQ(write_file_atomically(cache, cache_doc(issuer_.url(kOpenIdConfigurationPath),
                                                     std::chrono::system_clock::now() - 24h)),
              "");
    issuer_.set(kOpenIdConfigurationPath, "down", 503);
    issuer_.set("/keys", jwks_json({jwk_for("rsa2", "k2")}));
    make_discovery(20ms, cache);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    auto st = provider_->jwks_stats();
    EXPECT_EQ(st.failures, 1u);
    EXPECT_EQ(st.source, KeySource::cache_file);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::hours>(std::chrono::system_clock::now() - st.cached_fetched_at).count(), 24);
    EXPECT_TRUE(provider_->ever_fetched());
    EXPECT_EQ(call_as_issuer("k1").status, Status::ok);

    // The issuer comes back: the live set replaces the cached one (on the failure retry schedule).
    publish_document("/keys");
    ASSERT_TRUE(eventually([&] { return provider_->jwks_stats().source == KeySource::fetched; }));
    EXPECT_EQ(call_as_issuer("k2", "rsa2").status, Status::ok);
}

// Without a usable cache file, a provider whose issuer is down at start has no keys: 503.
class UnusableCacheFileTest : public DiscoveryFetcherTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(UnusableCacheFileTest, IsIgnored) {
    const std::string cache = dir_.file("remote.jwks.json");
    const auto source = issuer_.url(kOpenIdConfigurationPath);
    const auto now = std::chrono::system_clock::now();
    std::string content;
    if (GetParam() == "stale") content = cache_doc(source, now - 8 * 24h);
    if (GetParam() == "corrupt") content = cache_doc(source, now).substr(0, 40);
    if (GetParam() == "foreign") content = cache_doc("https://other.example/.well-known/openid-configuration", now);
    if (GetParam() != "missing") ASSERT_EQ(write_file_atomically(cache, content), "");
    issuer_.set(kOpenIdConfigurationPath, "down", 503);
    make_discovery(1h, cache);
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_FALSE(provider_->ever_fetched());
    EXPECT_EQ(provider_->jwks_stats().source, KeySource::none);
    const auto out = call_as_issuer("k1");
    EXPECT_EQ(out.action, AuthOutcome::Action::unavailable);
    EXPECT_EQ(out.status, Status::keys_unavailable);
}

INSTANTIATE_TEST_SUITE_P(Cache, UnusableCacheFileTest, ::testing::Values("missing", "stale", "corrupt", "foreign"));

// The cache file serves jwks_url providers too, keyed by the jwks_url.
TEST_F(DiscoveryFetcherTest, JwksUrlProviderUsesItsCacheFile) {
    const std::string cache = dir_.file("remote.jwks.json");
    issuer_.set_body(jwks_k1());
    make(issuer_.url(), 1h, [&](config::JwtProvider& c) { c.keys.jwks_cache_file = cache; });
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    set_->stop();
    ASSERT_TRUE(read_key_cache(cache, issuer_.url(), 1h, std::chrono::system_clock::now()).keys);

    issuer_.set_body("down", 503);  // a restart while the issuer is down
    make(issuer_.url(), 1h, [&](config::JwtProvider& c) { c.keys.jwks_cache_file = cache; });
    set_->start();
    ASSERT_TRUE(set_->wait_for_first_fetch(10s));
    EXPECT_EQ(provider_->jwks_stats().source, KeySource::cache_file);
    EXPECT_EQ(call(rsa_token("k1")).status, Status::ok);
}

}  // namespace
}  // namespace authgate::jwt
