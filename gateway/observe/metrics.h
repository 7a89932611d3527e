// Counters for /metrics: written by the workers on the request path without locks or
// allocations, read and summed only when the admin listener is scraped.
//
// Layout: one WorkerMetrics per worker thread; only that thread writes it (a relaxed load
// and store, no read-modify-write), the admin thread reads it with relaxed loads. Route
// and upstream counters are indexed by a slot that NameSlots hands out per *name*, not per
// position in the config: a reload that keeps a route's name keeps its counters going, a
// renamed or new route gets a new slot, a removed one keeps its final values (counters
// never go backwards). Slots are resolved when a snapshot is installed, off the request
// path; the cells behind a slot are allocated then and never move or get freed while the
// Metrics lives, so a scrape can read them while workers write.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jwt/status.h"
#include "observe/counter.h"
#include "proxy/upstream_error.h"

namespace authgate::observe {

// What went wrong talking to an upstream: the one vocabulary of proxy/upstream_error.h.
using proxy::kUpstreamErrors;
using proxy::UpstreamError;

#define AUTHGATE_X(name, text) +1
inline constexpr std::size_t kAuthReasons = 0 AUTHGATE_JWT_STATUS(AUTHGATE_X);
#undef AUTHGATE_X
// Status codes are counted exactly; 0 = the exchange ended before any response was sent
// (client went away), and anything outside 100..599 is folded into 0 too.
inline constexpr std::size_t kStatusCodes = 600;
// Upper bounds (seconds) of the request duration histogram, +Inf excluded. They reach
// past upstream_response's default 30 s, so a slow upstream shows as a bucket, not +Inf.
inline constexpr std::array<double, 14> kDurationBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                           0.25,  0.5,    1.0,   2.5,  10.0,  30.0, 60.0};

// A duration histogram's cells: per bucket (not cumulative; last = +Inf) and the sum.
struct DurationCells {
    std::array<Counter, kDurationBounds.size() + 1> buckets;
    Counter sum_us;
    void observe(std::chrono::microseconds d) {
        const double s = static_cast<double>(d.count()) / 1e6;
        std::size_t b = 0;
        while (b < kDurationBounds.size() && s > kDurationBounds[b]) ++b;
        buckets[b].add();
        sum_us.add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()));
    }
};

// The HTTP/2 limits (server.http2), each counted when it fires: the `limit` label of
// authgate_http2_limits_total (added).
enum class Http2Limit {
    concurrent_streams,  // a stream refused at max_concurrent_streams
    connection_memory,   // a stream refused at max_connection_memory
    header_list,         // a request header over max_header_list_size: 431
    header_block,        // a header block over twice that (CONTINUATION flood): GOAWAY
    rapid_reset,         // more than max_resets in flood_interval: GOAWAY
    control_flood,       // more than max_control_frames in flood_interval: GOAWAY
    protocol_error,      // a malformed request: RST_STREAM PROTOCOL_ERROR
};
inline constexpr std::array<std::string_view, 7> kHttp2LimitNames = {
    "concurrent_streams", "connection_memory", "header_list", "header_block",
    "rapid_reset",        "control_flood",     "protocol_error"};

struct RouteCells {
    std::array<Counter, kStatusCodes> responses;
    std::array<Counter, kAuthReasons> denials;      // real 401/403/503 auth outcomes
    std::array<Counter, kAuthReasons> report_only;  // would-be denials on report_only routes
    DurationCells duration;
    std::array<Counter, 2> preflights;  // [0] allowed, [1] refused (origin not allowed)
    Counter origins_refused;            // actual requests whose Origin the policy refused
};

// Per jwt provider: the requests whose token it decided, by result (ok or the failed check).
struct ProviderCells {
    std::array<Counter, kAuthReasons> decisions;
};

struct UpstreamCells {
    std::array<Counter, kUpstreamErrors> errors;
    DurationCells response;  // request sent -> response head received
};

// Fixed-capacity slot storage that grows in blocks without ever moving a cell.
template <class Cells>
class SlotCells {
public:
    static constexpr std::size_t kBlock = 16;
    static constexpr std::size_t kBlocks = 64;
    static constexpr std::size_t kCapacity = kBlock * kBlocks;

    SlotCells() = default;
    SlotCells(const SlotCells&) = delete;
    SlotCells& operator=(const SlotCells&) = delete;
    ~SlotCells() {
        for (auto& b : blocks_) delete[] b.load(std::memory_order_relaxed);
    }
    // Allocates the block holding `slot` (off the request path, one thread at a time).
    void ensure(std::uint32_t slot) {
        auto& b = blocks_[slot / kBlock];
        if (!b.load(std::memory_order_acquire)) b.store(new Cells[kBlock], std::memory_order_release);
    }
    // The cells of a slot that was ensured before; null otherwise.
    Cells* find(std::uint32_t slot) const {
        Cells* b = blocks_[slot / kBlock].load(std::memory_order_acquire);
        return b ? b + slot % kBlock : nullptr;
    }

private:
    std::array<std::atomic<Cells*>, kBlocks> blocks_{};
};

// Name -> slot, append-only. Only used when a snapshot is installed and when scraping.
// Each slot also keeps the series it has ever been able to have (flags, only ever added):
// those are exported from the first scrape on, at 0 until they happen, and never vanish.
class NameSlots {
public:
    struct Entry {
        std::string name;
        std::uint8_t flags = 0;
    };
    // The slot of a name, new if unseen; `flags` are added to its own. When all slots are
    // taken further names share the last one, labelled "_other", so a long run of reloads
    // cannot grow memory without bound.
    std::uint32_t slot(std::string_view name, std::uint8_t flags = 0);
    // Every name by slot.
    std::vector<std::string> names() const;
    std::vector<Entry> entries() const;
    std::size_t capacity() const { return SlotCells<RouteCells>::kCapacity; }

private:
    mutable std::mutex mu_;
    std::vector<Entry> entries_;
    std::unordered_map<std::string, std::uint32_t> index_;
};

// One worker's counters. Only that worker's thread calls the mutating members.
class WorkerMetrics {
public:
    void response(std::uint32_t route_slot, unsigned code, std::chrono::microseconds duration) {
        RouteCells& c = *routes_.find(route_slot);
        c.responses[code < kStatusCodes && code >= 100 ? code : 0].add();
        c.duration.observe(duration);
    }
    void auth_denied(std::uint32_t route_slot, jwt::Status why) {
        routes_.find(route_slot)->denials[static_cast<std::size_t>(why)].add();
    }
    void auth_report_only(std::uint32_t route_slot, jwt::Status why) {
        routes_.find(route_slot)->report_only[static_cast<std::size_t>(why)].add();
    }
    void upstream_error(std::uint32_t upstream_slot, UpstreamError e) {
        upstreams_.find(upstream_slot)->errors[static_cast<std::size_t>(e)].add();
    }
    // From the request's last byte sent to the upstream to its response head received.
    void upstream_response(std::uint32_t upstream_slot, std::chrono::microseconds d) {
        upstreams_.find(upstream_slot)->response.observe(d);
    }
    // A token the provider decided (verified, refused, or a cache hit), with the outcome.
    void jwt_decision(std::uint32_t provider_slot, jwt::Status result) {
        providers_.find(provider_slot)->decisions[static_cast<std::size_t>(result)].add();
    }
    // A preflight the gateway answered: allowed when the origin got CORS headers.
    void cors_preflight(std::uint32_t route_slot, bool allowed) {
        routes_.find(route_slot)->preflights[allowed ? 0 : 1].add();
    }
    // An actual request with an Origin the route's policy does not allow.
    void cors_origin_refused(std::uint32_t route_slot) { routes_.find(route_slot)->origins_refused.add(); }

    // Downstream connections taken, and those turned away at server.limits.max_connections.
    Counter connections_accepted;
    Counter connections_refused;
    // This worker's token cache (jwt::TokenCache counts into it, whichever cache a reload made).
    CacheCounters token_cache;
    // Requests by the protocol the client spoke, [0] HTTP/1.x and [1] HTTP/2, and the
    // HTTP/2 limits that fired (added).
    std::array<Counter, 2> requests_by_protocol;
    std::array<Counter, kHttp2LimitNames.size()> http2_limits;
    void http2_limit(Http2Limit l) { http2_limits[static_cast<std::size_t>(l)].add(); }

    SlotCells<RouteCells>& routes() { return routes_; }
    SlotCells<UpstreamCells>& upstreams() { return upstreams_; }
    SlotCells<ProviderCells>& providers() { return providers_; }
    const SlotCells<RouteCells>& routes() const { return routes_; }
    const SlotCells<UpstreamCells>& upstreams() const { return upstreams_; }
    const SlotCells<ProviderCells>& providers() const { return providers_; }

private:
    SlotCells<RouteCells> routes_;
    SlotCells<UpstreamCells> upstreams_;
    SlotCells<ProviderCells> providers_;
};

// A route as the metrics see it: its name and which series it can have.
struct RouteSeries {
    static constexpr std::uint8_t kAuth = 1;        // denials (auth required or optional)
    static constexpr std::uint8_t kReportOnly = 2;  // report_only would-be denials
    static constexpr std::uint8_t kCors = 4;        // preflights and refused origins
    std::string name;
    std::uint8_t flags = 0;
};

// The slots of one compiled config, by route and upstream position.
struct SnapshotSlots {
    std::uint64_t snapshot_id = 0;
    std::vector<std::uint32_t> routes;
    std::vector<std::uint32_t> upstreams;
    std::vector<std::uint32_t> providers;  // by position in the snapshot's ProviderSet
};

// What a scrape reports besides the counters.
struct ProviderState {
    std::string name;
    bool jwks_url = false;  // remote keys: a jwks_url, or OpenID discovery
    bool has_keys = false;  // a jwks_url provider has obtained keys at least once
    std::uint64_t fetch_successes = 0;
    std::uint64_t fetch_failures = 0;
    double last_success = 0;  // unix seconds of the keys' last successful fetch; 0 = never
    std::uint64_t keys = 0;   // keys in the current set (fetched and static)
    bool discovery = false;   // keys through OpenID discovery
    std::string key_source;   // jwt::key_source_name of the keys in use (remote providers)
    std::uint64_t discovery_successes = 0;
    std::uint64_t discovery_failures = 0;
};
struct ScrapeState {
    std::uint64_t connections_active = 0;
    bool draining = false;
    std::vector<ProviderState> providers;
};

// Every worker's counters plus the process-wide ones. Owned by the server.
class Metrics {
public:
    static constexpr std::uint32_t kNoRoute = 0;  // requests answered before a route matched

    explicit Metrics(std::size_t workers);
    WorkerMetrics& worker(std::size_t i) { return *workers_[i]; }
    std::size_t workers() const { return workers_.size(); }

    // Slots for a config's route and upstream names, with their cells allocated in every
    // worker. Called before the snapshot reaches any worker.
    SnapshotSlots resolve(std::uint64_t snapshot_id, const std::vector<RouteSeries>& routes,
                          const std::vector<std::string>& upstreams, const std::vector<std::string>& providers = {});
    // Slow path for a request that outlived two reloads: slot by name (cells already exist).
    std::uint32_t route_slot(std::string_view name) { return route_names_.slot(name); }
    std::uint32_t upstream_slot(std::string_view name) { return upstream_names_.slot(name); }
    std::uint32_t provider_slot(std::string_view name) { return provider_names_.slot(name); }

    // Written by the thread that loads the config: successful loads (the first one included)
    // also set the last success time.
    void config_loaded(std::chrono::system_clock::time_point at);
    Counter reloads_ok;
    Counter reloads_failed;

    // Prometheus text exposition format 0.0.4.
    std::string render(const ScrapeState& state) const;

private:
    std::vector<std::unique_ptr<WorkerMetrics>> workers_;
    NameSlots route_names_;
    NameSlots upstream_names_;
    NameSlots provider_names_;
    std::mutex resolve_mu_;
    std::atomic<double> last_load_{0};  // unix seconds
};

// The process_* families of the Prometheus client libraries (CPU, resident memory, open
// and maximum file descriptors, start time), read from /proc/self when called. A value
// that cannot be read is left out rather than reported as 0.
void append_process_metrics(std::string& out);

// Appends a Prometheus label value with \, " and newline escaped.
void append_label_value(std::string& out, std::string_view v);
// Appends a sample value, shortest exact form.
void append_number(std::string& out, std::uint64_t v);
void append_number(std::string& out, double v);
// Appends a family's # HELP and # TYPE lines.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help);

}  // namespace authgate::observe
