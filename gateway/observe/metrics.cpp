#include "observe/metrics.h"

#include <charconv>

namespace authgate::observe {

std::uint32_t NameSlots::slot(std::string_view name, std::uint8_t flags) {
    std::lock_guard lock(mu_);
    std::string key(name);
    std::uint32_t s = 0;
    if (auto it = index_.find(key); it != index_.end()) {
        s = it->second;
    } else if (const auto last = static_cast<std::uint32_t>(capacity() - 1); entries_.size() >= last) {
        if (entries_.size() == last) entries_.push_back({"_other", 0});
        index_.emplace(std::move(key), last);
        s = last;
    } else {
        s = static_cast<std::uint32_t>(entries_.size());
        entries_.push_back({key, 0});
        index_.emplace(std::move(key), s);
    }
    entries_[s].flags |= flags;
    return s;
}

std::vector<std::string> NameSlots::names() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
}

std::vector<NameSlots::Entry> NameSlots::entries() const {
    std::lock_guard lock(mu_);
    return entries_;
}

Metrics::Metrics(std::size_t workers) {
    for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerMetrics>());
    resolve(0, {{"", 0}}, {});  // slot 0 (kNoRoute): requests answered before any route matched
}

void Metrics::config_loaded(std::chrono::system_clock::time_point at) {
    last_load_.store(std::chrono::duration<double>(at.time_since_epoch()).count(), std::memory_order_relaxed);
}

SnapshotSlots Metrics::resolve(std::uint64_t snapshot_id, const std::vector<RouteSeries>& routes,
                               const std::vector<std::string>& upstreams, const std::vector<std::string>& providers) {
    std::lock_guard lock(resolve_mu_);  // one allocator of cells at a time
    SnapshotSlots out;
    out.snapshot_id = snapshot_id;
    for (const auto& [name, flags] : routes) {
        auto s = route_names_.slot(name, flags);
        for (auto& w : workers_) w->routes().ensure(s);
        out.routes.push_back(s);
    }
    for (const auto& name : upstreams) {
        auto s = upstream_names_.slot(name);
        for (auto& w : workers_) w->upstreams().ensure(s);
        out.upstreams.push_back(s);
    }
    for (const auto& name : providers) {
        auto s = provider_names_.slot(name);
        for (auto& w : workers_) w->providers().ensure(s);
        out.providers.push_back(s);
    }
    return out;
}

void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '"': out += "\\\""; break;
            case '\n': out += "\\n"; break;
            default: out += c;
        }
    }
}

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_number(std::string& out, double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

namespace {

// name{k1="v1",k2="v2"} value
template <class Value>
void sample(std::string& out, std::string_view name, std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
            Value value) {
    out += name;
    if (labels.size()) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : labels) {
            if (!first) out += ',';
            first = false;
            out += k;
            out += "=\"";
            append_label_value(out, v);
            out += '"';
        }
        out += '}';
    }
    out += ' ';
    append_number(out, value);
    out += '\n';
}

// A histogram summed over the workers.
struct DurationTotals {
    std::array<std::uint64_t, kDurationBounds.size() + 1> buckets{};
    std::uint64_t sum_us = 0;
    void add(const DurationCells& c) {
        for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += c.buckets[i].get();
        sum_us += c.sum_us.get();
    }
};

// One route's counters summed over the workers.
struct RouteTotals {
    std::array<std::uint64_t, kStatusCodes> responses{};
    std::array<std::uint64_t, kAuthReasons> denials{};
    std::array<std::uint64_t, kAuthReasons> report_only{};
    DurationTotals duration;
    std::array<std::uint64_t, 2> preflights{};
    std::uint64_t origins_refused = 0;
};

struct UpstreamTotals {
    std::array<std::uint64_t, kUpstreamErrors> errors{};
    DurationTotals response;
};

template <std::size_t N>
void add(std::array<std::uint64_t, N>& to, const std::array<Counter, N>& from) {
    for (std::size_t i = 0; i < N; ++i) to[i] += from[i].get();
}

// The _bucket, _sum and _count lines of one labelled histogram series.
void histogram(std::string& out, std::string_view name, std::string_view label, std::string_view value,
               const DurationTotals& h) {
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    std::string le;
    for (std::size_t b = 0; b < h.buckets.size(); ++b) {
        cumulative += h.buckets[b];
        le.clear();
        if (b < kDurationBounds.size()) append_number(le, kDurationBounds[b]);
        else le = "+Inf";
        sample(out, bucket, {{label, value}, {"le", le}}, cumulative);
    }
    sample(out, std::string(name) + "_sum", {{label, value}}, static_cast<double>(h.sum_us) / 1e6);
    sample(out, std::string(name) + "_count", {{label, value}}, cumulative);
}

// "a, b, c": label values for a family's help text, `skip` left out.
template <std::size_t N, class Label>
std::string value_list(Label label, std::size_t skip = N) {
    std::string out;
    for (std::size_t i = 0; i < N; ++i) {
        if (i == skip) continue;
        if (!out.empty()) out += ", ";
        out += label(i);
    }
    return out;
}

std::string_view reason(std::size_t i) { return jwt::label(static_cast<jwt::Status>(i)); }
std::string_view upstream_kind(std::size_t i) { return proxy::to_string(static_cast<UpstreamError>(i)); }
constexpr std::size_t kOk = static_cast<std::size_t>(jwt::Status::ok);

}  // namespace

std::string Metrics::render(const ScrapeState& state) const {
    const auto route_entries = route_names_.entries();
    const auto upstream_names = upstream_names_.names();

    std::vector<RouteTotals> routes(route_entries.size());
    for (std::size_t s = 0; s < routes.size(); ++s) {
        for (const auto& w : workers_) {
            const RouteCells* c = w->routes().find(static_cast<std::uint32_t>(s));
            if (!c) continue;
            add(routes[s].responses, c->responses);
            add(routes[s].denials, c->denials);
            add(routes[s].report_only, c->report_only);
            routes[s].duration.add(c->duration);
            add(routes[s].preflights, c->preflights);
            routes[s].origins_refused += c->origins_refused.get();
        }
    }
    std::vector<UpstreamTotals> upstreams(upstream_names.size());
    for (std::size_t s = 0; s < upstreams.size(); ++s) {
        for (const auto& w : workers_) {
            const UpstreamCells* c = w->upstreams().find(static_cast<std::uint32_t>(s));
            if (!c) continue;
            add(upstreams[s].errors, c->errors);
            upstreams[s].response.add(c->response);
        }
    }
    const auto provider_names = provider_names_.names();
    std::vector<std::array<std::uint64_t, kAuthReasons>> decisions(provider_names.size());
    for (std::size_t s = 0; s < decisions.size(); ++s) {
        for (const auto& w : workers_) {
            if (const ProviderCells* c = w->providers().find(static_cast<std::uint32_t>(s))) add(decisions[s], c->decisions);
        }
    }
    const auto route_name = [&](std::size_t s) -> std::string_view { return route_entries[s].name; };
    const auto has = [&](std::size_t s, std::uint8_t flag) { return (route_entries[s].flags & flag) != 0; };

    std::string out;
    out.reserve(16384);

    family(out, "authgate_build_info", "gauge", "Build information; always 1.");
    sample(out, "authgate_build_info", {{"version", AUTHGATE_VERSION}}, std::uint64_t{1});

    family(out, "authgate_requests_total", "counter",
           "Responses sent by route (\"\" = answered before any route matched) and status code "
           "(\"0\" = the exchange ended before a response was sent).");
    for (std::size_t s = 0; s < routes.size(); ++s) {
        for (std::size_t code = 0; code < kStatusCodes; ++code) {
            if (!routes[s].responses[code]) continue;
            sample(out, "authgate_requests_total", {{"route", route_name(s)}, {"code", std::to_string(code)}},
                   routes[s].responses[code]);
        }
    }

    family(out, "authgate_request_duration_seconds", "histogram",
           "Time from the request header's arrival to the end of the response, by route.");
    for (std::size_t s = 0; s < routes.size(); ++s) {
        if (routes[s].duration.buckets == decltype(routes[s].duration.buckets){}) continue;
        histogram(out, "authgate_request_duration_seconds", "route", route_name(s), routes[s].duration);
    }

    // Counters by route and failed check: the same family shape for denials and for
    // report_only would-be denials. Every reason of a route that can have the series is
    // there, at 0 until it happens.
    using Reasons = std::array<std::uint64_t, kAuthReasons>;
    const std::string reasons = value_list<kAuthReasons>(reason, kOk);  // "ok" is never counted
    auto by_reason = [&](std::string_view name, std::string help, Reasons RouteTotals::*cells, std::uint8_t flag) {
        family(out, name, "counter", help + " (" + reasons + ").");
        for (std::size_t s = 0; s < routes.size(); ++s) {
            const Reasons& counts = routes[s].*cells;
            const bool all = has(s, flag);
            for (std::size_t i = 0; i < kAuthReasons; ++i) {
                if (i == kOk) continue;
                if (all || counts[i]) sample(out, name, {{"route", route_name(s)}, {"reason", reason(i)}}, counts[i]);
            }
        }
    };
    by_reason("authgate_auth_denials_total",
              "Requests refused by authentication (401, 403, 503) by route and failed check", &RouteTotals::denials,
              RouteSeries::kAuth);
    by_reason("authgate_auth_report_only_total",
              "Requests a report_only route forwarded although authentication would have refused them, "
              "by route and failed check",
              &RouteTotals::report_only, RouteSeries::kReportOnly);

    // Every provider ever configured has every result, at 0 until it happens.
    family(out, "authgate_jwt_decisions_total", "counter",
           "Requests whose token a jwt provider decided (a full verification or a token cache hit), by provider "
           "and result: ok, or the failed check (" + reasons + "). With several providers on a route, the one "
           "the token's iss selects decides.");
    for (std::size_t s = 0; s < decisions.size(); ++s) {
        for (std::size_t i = 0; i < kAuthReasons; ++i)
            sample(out, "authgate_jwt_decisions_total", {{"provider", provider_names[s]}, {"result", reason(i)}},
                   decisions[s][i]);
    }

    family(out, "authgate_cors_preflights_total", "counter",
           "CORS preflights the gateway answered, by route and result (allowed, or refused: the origin is "
           "not allowed and the answer carries no CORS headers).");
    for (std::size_t s = 0; s < routes.size(); ++s) {
        const auto& p = routes[s].preflights;
        if (!has(s, RouteSeries::kCors) && !p[0] && !p[1]) continue;
        sample(out, "authgate_cors_preflights_total", {{"route", route_name(s)}, {"result", "allowed"}}, p[0]);
        sample(out, "authgate_cors_preflights_total", {{"route", route_name(s)}, {"result", "refused"}}, p[1]);
    }
    family(out, "authgate_cors_origins_refused_total", "counter",
           "Actual (not preflight) requests whose Origin the CORS policy does not allow, by route: answered "
           "without CORS headers, so the browser withholds the response from the page.");
    for (std::size_t s = 0; s < routes.size(); ++s) {
        if (has(s, RouteSeries::kCors) || routes[s].origins_refused)
            sample(out, "authgate_cors_origins_refused_total", {{"route", route_name(s)}}, routes[s].origins_refused);
    }

    family(out, "authgate_upstream_errors_total", "counter",
           "Failed upstream exchanges by upstream and kind (" + value_list<kUpstreamErrors>(upstream_kind) + ").");
    for (std::size_t s = 0; s < upstreams.size(); ++s) {
        for (std::size_t k = 0; k < kUpstreamErrors; ++k)
            sample(out, "authgate_upstream_errors_total", {{"upstream", upstream_names[s]}, {"kind", upstream_kind(k)}},
                   upstreams[s].errors[k]);
    }
    family(out, "authgate_upstream_response_duration_seconds", "histogram",
           "Time from the request's last byte sent upstream to the response header received, by upstream.");
    for (std::size_t s = 0; s < upstreams.size(); ++s)
        histogram(out, "authgate_upstream_response_duration_seconds", "upstream", upstream_names[s],
                  upstreams[s].response);

    family(out, "authgate_connections_active", "gauge", "Open downstream connections.");
    sample(out, "authgate_connections_active", {}, state.connections_active);

    std::uint64_t accepted = 0, refused = 0, hits = 0, misses = 0, evictions = 0;
    for (const auto& w : workers_) {
        accepted += w->connections_accepted.get();
        refused += w->connections_refused.get();
        hits += w->token_cache.hits.get();
        misses += w->token_cache.misses.get();
        evictions += w->token_cache.evictions.get();
    }
    family(out, "authgate_connections_total", "counter",
           "Downstream connections by result: accepted, or refused at server.limits.max_connections.");
    sample(out, "authgate_connections_total", {{"result", "accepted"}}, accepted);
    sample(out, "authgate_connections_total", {{"result", "refused"}}, refused);

    std::array<std::uint64_t, 2> by_protocol{};
    std::array<std::uint64_t, kHttp2LimitNames.size()> h2_limits{};
    for (const auto& w : workers_) {
        for (std::size_t i = 0; i < by_protocol.size(); ++i) by_protocol[i] += w->requests_by_protocol[i].get();
        for (std::size_t i = 0; i < h2_limits.size(); ++i) h2_limits[i] += w->http2_limits[i].get();
    }
    family(out, "authgate_requests_by_protocol_total", "counter",
           "Requests by the protocol the client spoke: h1 (HTTP/1.x) or h2 (HTTP/2).");
    sample(out, "authgate_requests_by_protocol_total", {{"protocol", "h1"}}, by_protocol[0]);
    sample(out, "authgate_requests_by_protocol_total", {{"protocol", "h2"}}, by_protocol[1]);
    family(out, "authgate_http2_limits_total", "counter",
           "HTTP/2 limits that fired, by limit (server.http2): streams refused, 431s, GOAWAYs, stream errors.");
    for (std::size_t i = 0; i < h2_limits.size(); ++i)
        sample(out, "authgate_http2_limits_total", {{"limit", kHttp2LimitNames[i]}}, h2_limits[i]);

    family(out, "authgate_draining", "gauge", "1 after SIGTERM/SIGINT while in-flight requests finish.");
    sample(out, "authgate_draining", {}, std::uint64_t{state.draining ? 1u : 0u});

    family(out, "authgate_token_cache_hits_total", "counter",
           "Token lookups answered by a worker's verified-token cache (no signature check).");
    sample(out, "authgate_token_cache_hits_total", {}, hits);
    family(out, "authgate_token_cache_misses_total", "counter",
           "Token lookups the cache could not answer (unseen, or verified under keys since replaced).");
    sample(out, "authgate_token_cache_misses_total", {}, misses);
    family(out, "authgate_token_cache_evictions_total", "counter",
           "Cached tokens pushed out to make room (jwt.cache.max_entries per worker).");
    sample(out, "authgate_token_cache_evictions_total", {}, evictions);

    family(out, "authgate_config_reloads_total", "counter", "SIGHUP reloads by result.");
    sample(out, "authgate_config_reloads_total", {{"result", "success"}}, reloads_ok.get());
    sample(out, "authgate_config_reloads_total", {{"result", "failure"}}, reloads_failed.get());
    family(out, "authgate_config_last_reload_success_timestamp_seconds", "gauge",
           "Unix time the running configuration was loaded (at start, then at each successful reload).");
    sample(out, "authgate_config_last_reload_success_timestamp_seconds", {},
           last_load_.load(std::memory_order_relaxed));

    family(out, "authgate_jwks_keys_available", "gauge",
           "1 when a jwks_url provider has obtained keys at least once, else 0.");
    for (const auto& p : state.providers) {
        if (p.jwks_url)
            sample(out, "authgate_jwks_keys_available", {{"provider", p.name}}, std::uint64_t{p.has_keys ? 1u : 0u});
    }
    family(out, "authgate_jwks_fetches_total", "counter",
           "JWKS URL fetches by provider and result, since the running config was loaded.");
    for (const auto& p : state.providers) {
        if (!p.jwks_url) continue;
        sample(out, "authgate_jwks_fetches_total", {{"provider", p.name}, {"result", "success"}}, p.fetch_successes);
        sample(out, "authgate_jwks_fetches_total", {{"provider", p.name}, {"result", "failure"}}, p.fetch_failures);
    }
    family(out, "authgate_jwks_last_success_timestamp_seconds", "gauge",
           "Unix time a jwks_url provider's keys were last fetched successfully; 0 = never.");
    for (const auto& p : state.providers) {
        if (p.jwks_url) sample(out, "authgate_jwks_last_success_timestamp_seconds", {{"provider", p.name}}, p.last_success);
    }
    family(out, "authgate_jwks_keys", "gauge",
           "Keys a jwks_url provider verifies with now (fetched, plus any static ones).");
    for (const auto& p : state.providers) {
        if (p.jwks_url) sample(out, "authgate_jwks_keys", {{"provider", p.name}}, p.keys);
    }
    family(out, "authgate_jwks_key_source", "gauge",
           "Where a remote-key provider's keys in use come from: 1 for the current source "
           "(fetched: from the issuer; cache_file: its key cache file, the issuer unreachable since start).");
    for (const auto& p : state.providers) {
        if (!p.jwks_url) continue;
        for (const char* source : {"fetched", "cache_file"})
            sample(out, "authgate_jwks_key_source", {{"provider", p.name}, {"source", source}},
                   std::uint64_t{p.key_source == source ? 1u : 0u});
    }
    family(out, "authgate_oidc_discovery_fetches_total", "counter",
           "OpenID discovery document fetches by provider and result, since the running config was loaded.");
    for (const auto& p : state.providers) {
        if (!p.discovery) continue;
        sample(out, "authgate_oidc_discovery_fetches_total", {{"provider", p.name}, {"result", "success"}},
               p.discovery_successes);
        sample(out, "authgate_oidc_discovery_fetches_total", {{"provider", p.name}, {"result", "failure"}},
               p.discovery_failures);
    }

    append_process_metrics(out);
    return out;
}

}  // namespace authgate::observe
