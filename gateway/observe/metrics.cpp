#include "observe/metrics.h"

#include <charconv>

namespace authgate::observe {

std::uint32_t NameSlots::slot(std::string_view name) {
    std::lock_guard lock(mu_);
    std::string key(name);
    if (auto it = index_.find(key); it != index_.end()) return it->second;
    const auto last = static_cast<std::uint32_t>(capacity() - 1);
    if (names_.size() >= last) {
        if (names_.size() == last) names_.push_back("_other");
        index_.emplace(std::move(key), last);
        return last;
    }
    const auto s = static_cast<std::uint32_t>(names_.size());
    names_.push_back(key);
    index_.emplace(std::move(key), s);
    return s;
}

std::vector<std::string> NameSlots::names() const {
    std::lock_guard lock(mu_);
    return names_;
}

Metrics::Metrics(std::size_t workers) {
    for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerMetrics>());
    resolve(0, {""}, {});  // slot 0 (kNoRoute): requests answered before any route matched
}

SnapshotSlots Metrics::resolve(std::uint64_t snapshot_id, const std::vector<std::string>& routes,
                               const std::vector<std::string>& upstreams) {
    std::lock_guard lock(resolve_mu_);  // one allocator of cells at a time
    SnapshotSlots out;
    out.snapshot_id = snapshot_id;
    for (const auto& name : routes) {
        auto s = route_names_.slot(name);
        for (auto& w : workers_) w->routes().ensure(s);
        out.routes.push_back(s);
    }
    for (const auto& name : upstreams) {
        auto s = upstream_names_.slot(name);
        for (auto& w : workers_) w->upstreams().ensure(s);
        out.upstreams.push_back(s);
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

namespace {

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

// One route's counters summed over the workers.
struct RouteTotals {
    std::array<std::uint64_t, kStatusCodes> responses{};
    std::array<std::uint64_t, kAuthReasons> denials{};
    std::array<std::uint64_t, kAuthReasons> report_only{};
    std::array<std::uint64_t, kDurationBounds.size() + 1> duration{};
    std::uint64_t duration_sum_us = 0;
};

template <std::size_t N>
void add(std::array<std::uint64_t, N>& to, const std::array<Counter, N>& from) {
    for (std::size_t i = 0; i < N; ++i) to[i] += from[i].get();
}

std::string_view reason(std::size_t i) { return jwt::to_string(static_cast<jwt::Status>(i)); }

}  // namespace

std::string Metrics::render(const ScrapeState& state) const {
    const auto route_names = route_names_.names();
    const auto upstream_names = upstream_names_.names();

    std::vector<RouteTotals> routes(route_names.size());
    for (std::size_t s = 0; s < routes.size(); ++s) {
        for (const auto& w : workers_) {
            const RouteCells* c = w->routes().find(static_cast<std::uint32_t>(s));
            if (!c) continue;
            add(routes[s].responses, c->responses);
            add(routes[s].denials, c->denials);
            add(routes[s].report_only, c->report_only);
            add(routes[s].duration, c->duration);
            routes[s].duration_sum_us += c->duration_sum_us.get();
        }
    }

    std::string out;
    out.reserve(4096);

    family(out, "authgate_build_info", "gauge", "Build information; always 1.");
    sample(out, "authgate_build_info", {{"version", AUTHGATE_VERSION}}, std::uint64_t{1});

    family(out, "authgate_requests_total", "counter",
           "Responses sent by route (\"\" = answered before any route matched) and status code "
           "(\"0\" = the exchange ended before a response was sent).");
    for (std::size_t s = 0; s < routes.size(); ++s) {
        for (std::size_t code = 0; code < kStatusCodes; ++code) {
            if (!routes[s].responses[code]) continue;
            sample(out, "authgate_requests_total", {{"route", route_names[s]}, {"code", std::to_string(code)}},
                   routes[s].responses[code]);
        }
    }

    family(out, "authgate_request_duration_seconds", "histogram",
           "Time from the request header's arrival to the end of the response, by route.");
    for (std::size_t s = 0; s < routes.size(); ++s) {
        const auto& r = routes[s];
        std::uint64_t count = 0;
        for (auto b : r.duration) count += b;
        if (!count) continue;
        std::uint64_t cumulative = 0;
        std::string le;
        for (std::size_t b = 0; b < r.duration.size(); ++b) {
            cumulative += r.duration[b];
            le.clear();
            if (b < kDurationBounds.size()) append_number(le, kDurationBounds[b]);
            else le = "+Inf";
            sample(out, "authgate_request_duration_seconds_bucket", {{"route", route_names[s]}, {"le", le}},
                   cumulative);
        }
        sample(out, "authgate_request_duration_seconds_sum", {{"route", route_names[s]}},
               static_cast<double>(r.duration_sum_us) / 1e6);
        sample(out, "authgate_request_duration_seconds_count", {{"route", route_names[s]}}, count);
    }

    // Counters by route and failed check: the same family shape for denials and for
    // report_only would-be denials.
    using Reasons = std::array<std::uint64_t, kAuthReasons>;
    auto by_reason = [&](std::string_view name, std::string_view help, Reasons RouteTotals::*cells) {
        family(out, name, "counter", help);
        for (std::size_t s = 0; s < routes.size(); ++s) {
            const Reasons& counts = routes[s].*cells;
            for (std::size_t i = 0; i < kAuthReasons; ++i) {
                if (counts[i]) sample(out, name, {{"route", route_names[s]}, {"reason", reason(i)}}, counts[i]);
            }
        }
    };
    by_reason("authgate_auth_denials_total",
              "Requests refused by authentication (401, 403, 503) by route and failed check.", &RouteTotals::denials);
    by_reason("authgate_auth_report_only_total",
              "Requests a report_only route forwarded although authentication would have refused them, "
              "by route and failed check.",
              &RouteTotals::report_only);

    family(out, "authgate_upstream_errors_total", "counter",
           "Failed upstream exchanges by upstream and kind (connect_refused, connect_timeout, tls, resolve, "
           "reset, response_timeout, mid_response).");
    for (std::size_t s = 0; s < upstream_names.size(); ++s) {
        std::array<std::uint64_t, kUpstreamErrors> errors{};
        for (const auto& w : workers_) {
            if (const UpstreamCells* c = w->upstreams().find(static_cast<std::uint32_t>(s))) add(errors, c->errors);
        }
        for (std::size_t k = 0; k < kUpstreamErrors; ++k) {
            if (errors[k])
                sample(out, "authgate_upstream_errors_total",
                       {{"upstream", upstream_names[s]}, {"kind", to_string(static_cast<UpstreamError>(k))}},
                       errors[k]);
        }
    }

    family(out, "authgate_connections_active", "gauge", "Open downstream connections.");
    sample(out, "authgate_connections_active", {}, state.connections_active);

    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;
    for (const auto& w : workers_) {
        accepted += w->connections_accepted.get();
        refused += w->connections_refused.get();
    }
    family(out, "authgate_connections_total", "counter",
           "Downstream connections by result: accepted, or refused at server.limits.max_connections.");
    sample(out, "authgate_connections_total", {{"result", "accepted"}}, accepted);
    sample(out, "authgate_connections_total", {{"result", "refused"}}, refused);

    family(out, "authgate_draining", "gauge", "1 after SIGTERM/SIGINT while in-flight requests finish.");
    sample(out, "authgate_draining", {}, std::uint64_t{state.draining ? 1u : 0u});

    family(out, "authgate_config_reloads_total", "counter", "SIGHUP reloads by result.");
    sample(out, "authgate_config_reloads_total", {{"result", "success"}}, reloads_ok.get());
    sample(out, "authgate_config_reloads_total", {{"result", "failure"}}, reloads_failed.get());

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
    return out;
}

}  // namespace authgate::observe
