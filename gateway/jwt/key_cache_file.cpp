#include "jwt/key_cache_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "config/files.h"
#include "jwt/jwks.h"

namespace authgate::jwt {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The set itself may be as large as a fetched one; the envelope is small.
constexpr std::size_t kMaxCacheBytes = kMaxJwksBytes + 64 * 1024;

std::string failed(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string_view text_of(const json::string& s) { return {s.data(), s.size()}; }

}  // namespace

std::optional<std::string> format_key_cache(std::string_view source, std::string_view jwks_uri,
                                            std::chrono::system_clock::time_point fetched_at,
                                            std::string_view jwks_json) {
    boost::system::error_code ec;
    json::value jwks = json::parse(jwks_json, ec);
    if (ec || !jwks.is_object()) return std::nullopt;
    json::object doc;
    doc["authgate_jwks_cache"] = kKeyCacheVersion;
    doc["source"] = source;
    doc["jwks_uri"] = jwks_uri;
    doc["fetched_at"] = std::chrono::duration_cast<std::chrono::seconds>(fetched_at.time_since_epoch()).count();
    doc["jwks"] = std::move(jwks);
    return json::serialize(doc) + "\n";
}

KeyCacheReadResult parse_key_cache(std::string_view text, std::string_view expected_source,
                                   std::chrono::milliseconds max_stale, std::chrono::system_clock::time_point now) {
    KeyCacheReadResult r;
    if (text.size() > kMaxCacheBytes) {
        r.error = "too large for a key cache file";
        return r;
    }
    boost::system::error_code ec;
    const json::value doc = json::parse(text, ec);
    if (ec) {
        r.error = "not valid JSON: " + ec.message();
        return r;
    }
    const auto* root = doc.if_object();
    const auto* version = root ? root->if_contains("authgate_jwks_cache") : nullptr;
    if (!version) {
        r.error = "not an authgate key cache file";
        return r;
    }
    if (!version->is_int64() || version->get_int64() != kKeyCacheVersion) {
        r.error = "unsupported key cache version " + json::serialize(*version);
        return r;
    }
    const auto* source = root->if_contains("source");
    const auto* uri = root->if_contains("jwks_uri");
    const auto* at = root->if_contains("fetched_at");
    const auto* jwks = root->if_contains("jwks");
    if (!source || !source->is_string() || !uri || !uri->is_string() || !at || !at->is_int64() || !jwks ||
        !jwks->is_object()) {
        r.error = "missing or malformed source, jwks_uri, fetched_at or jwks";
        return r;
    }
    if (text_of(source->get_string()) != expected_source) {
        // Another issuer's keys (a renamed provider, a changed URL): never trusted.
        r.error = "foreign file: its keys come from " + std::string(text_of(source->get_string())) + ", not " +
                  std::string(expected_source);
        return r;
    }
    const std::chrono::system_clock::time_point fetched_at{std::chrono::seconds(at->get_int64())};
    if (fetched_at > now + std::chrono::minutes(1)) {
        r.error = "fetched_at is in the future";
        return r;
    }
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - fetched_at);
    if (age > max_stale) {
        r.error = "stale: fetched " + std::to_string(std::chrono::duration_cast<std::chrono::hours>(age).count()) +
                  "h ago, more than max_stale";
        return r;
    }
    JwksParseResult parsed = parse_jwks(json::serialize(*jwks));
    if (!parsed.ok) {
        r.error = parsed.error;
        return r;
    }
    if (parsed.keys.empty()) {
        r.error = "no usable signing key in the cached set";
        return r;
    }
    CachedKeys keys;
    keys.keys = std::move(parsed.keys);
    keys.skipped = std::move(parsed.skipped);
    keys.jwks_uri = std::string(text_of(uri->get_string()));
    keys.fetched_at = fetched_at;
    r.keys = std::move(keys);
    return r;
}

KeyCacheReadResult read_key_cache(const std::string& path, std::string_view expected_source,
                                  std::chrono::milliseconds max_stale, std::chrono::system_clock::time_point now) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return {};
    std::string error;
    const auto text = config::read_file(path, &error);
    if (!text) return {std::nullopt, error};
    return parse_key_cache(*text, expected_source, max_stale, now);
}

std::string write_file_atomically(const std::string& path, std::string_view content) {
    const fs::path target(path);
    const fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    std::string tmp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    const int fd = ::mkstemp(tmp.data());  // O_EXCL, mode 0600
    if (fd < 0) return failed("cannot create a temporary file in " + dir.string());
    std::string error;
    if (::fchmod(fd, 0600) != 0) error = failed("chmod " + tmp);
    std::size_t off = 0;
    while (error.empty() && off < content.size()) {
        const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) error = failed("write " + tmp);
        else off += static_cast<std::size_t>(n);
    }
    // Data on disk before the rename makes it visible: a crash leaves the old file or the
    // new one, never a torn one.
    if (error.empty() && ::fsync(fd) != 0) error = failed("fsync " + tmp);
    if (::close(fd) != 0 && error.empty()) error = failed("close " + tmp);
    if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) error = failed("rename to " + path);
    if (!error.empty()) {
        ::unlink(tmp.c_str());
        return error;
    }
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);  // the rename itself; best effort
        ::close(dfd);
    }
    return {};
}

}  // namespace authgate::jwt
