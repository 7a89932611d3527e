// Background JWKS fetching for providers with a jwks_url or OpenID discovery (the
// configuration document first, then the jwks_uri it names): one thread running its own
// io_context (Boost.Beast HTTP/HTTPS client), so no worker thread ever waits on an issuer.
// Fetch at start, then every jwks_refresh; a failure keeps the last good key set; an
// unknown kid (KeyStore::request_refetch) pulls the next fetch forward. Fetched keys are
// published through each provider's KeyStore, and written to its key cache file; when
// the first fetch fails and there are no keys, the cache file's are published instead.
//
// Whoever makes a fetcher (ProviderSet::make_fetcher) owns it: the server starts one for
// the running snapshot and stops it on its control thread at the next reload, so a
// replaced config stops polling its issuers at once, while the providers keep the keys
// they have for requests still running under it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "jwt/provider.h"

namespace authgate::jwt {

// Name of every fetcher thread (pthread_setname_np, at most 15 characters).
inline constexpr char kJwksThreadName[] = "authgate-jwks";

class JwksFetcher {
public:
    struct Options {
        std::chrono::milliseconds io_timeout{10000};  // each resolve/connect/handshake/write/read
        std::chrono::milliseconds retry_after_failure{10000};  // capped by jwks_refresh
        std::size_t body_limit = kMaxJwksBytes;
    };
    JwksFetcher(std::vector<std::shared_ptr<Provider>> providers, Options options);
    ~JwksFetcher();  // stops and joins
    JwksFetcher(const JwksFetcher&) = delete;
    JwksFetcher& operator=(const JwksFetcher&) = delete;

    void start();  // idempotent
    void stop();   // idempotent; joins the thread (call it where blocking is allowed)

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace authgate::jwt
