// Metrics: per-worker counters summed at scrape time, name-keyed slots that survive a
// reload, and the Prometheus text exposition format.
#include "observe/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace authgate::observe {
namespace {
using namespace std::chrono_literals;

// Every line of the exposition that starts with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) == 0) out.push_back(line);
    }
    return out;
}

bool has_line(const std::string& text, const std::string& line) {
    return !lines_starting(text, line).empty() &&
           lines_starting(text, line).front().size() == line.size();
}

TEST(Metrics, SumsEveryWorkerAtScrapeTime) {
    Metrics m(3);
    auto slots = m.resolve(1, {{"api"}, {"public"}}, {"backend"});
    ASSERT_EQ(slots.routes.size(), 2u);
    m.worker(0).response(slots.routes[0], 200, 1ms);
    m.worker(1).response(slots.routes[0], 200, 1ms);
    m.worker(2).response(slots.routes[0], 200, 1ms);
    m.worker(2).response(slots.routes[0], 404, 1ms);
    m.worker(1).response(slots.routes[1], 502, 1ms);
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"api\",code=\"200\"} 3")) << text;
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"api\",code=\"404\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"public\",code=\"502\"} 1")) << text;
    // Series that never happened are not invented.
    EXPECT_TRUE(lines_starting(text, "authgate_requests_total{route=\"public\",code=\"200\"}").empty());
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
    Metrics m(1);
    auto text = m.render({});
    for (const char* name :
         {"authgate_requests_total", "authgate_request_duration_seconds", "authgate_auth_denials_total",
          "authgate_auth_report_only_total", "authgate_upstream_errors_total", "authgate_connections_active",
          "authgate_connections_total", "authgate_config_reloads_total", "authgate_jwks_fetches_total",
          "authgate_jwks_keys_available", "authgate_jwks_keys", "authgate_jwks_last_success_timestamp_seconds",
          "authgate_config_last_reload_success_timestamp_seconds", "authgate_token_cache_hits_total",
          "authgate_token_cache_misses_total", "authgate_token_cache_evictions_total", "authgate_cors_preflights_total",
          "authgate_cors_origins_refused_total", "authgate_upstream_response_duration_seconds",
          "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_max_fds",
          "process_start_time_seconds"}) {
        EXPECT_EQ(lines_starting(text, std::string("# HELP ") + name + " ").size(), 1u) << name;
        EXPECT_EQ(lines_starting(text, std::string("# TYPE ") + name + " ").size(), 1u) << name;
    }
    EXPECT_TRUE(has_line(text, "# TYPE authgate_request_duration_seconds histogram"));
    EXPECT_TRUE(has_line(text, "# TYPE authgate_requests_total counter"));
    EXPECT_TRUE(has_line(text, "# TYPE authgate_connections_active gauge"));
    EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, ConnectionCountsAreSummedOverWorkers) {
    Metrics m(2);
    m.worker(0).connections_accepted.add(3);
    m.worker(1).connections_accepted.add(2);
    m.worker(1).connections_refused.add();
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_connections_total{result=\"accepted\"} 5")) << text;
    EXPECT_TRUE(has_line(text, "authgate_connections_total{result=\"refused\"} 1")) << text;
}

TEST(Metrics, UnroutedRequestsAndOddCodesHaveTheirOwnLabels) {
    Metrics m(1);
    m.worker(0).response(Metrics::kNoRoute, 404, 1ms);
    m.worker(0).response(Metrics::kNoRoute, 0, 1ms);    // client left before any response
    m.worker(0).response(Metrics::kNoRoute, 999, 1ms);  // out of range: folded into 0
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"\",code=\"404\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"\",code=\"0\"} 2")) << text;
}

TEST(Metrics, AuthDenialsAndReportOnlyUseSnakeCaseReasonLabels) {
    Metrics m(2);
    auto slots = m.resolve(1, {{"api", RouteSeries::kAuth}, {"shadow", RouteSeries::kReportOnly}}, {});
    m.worker(0).auth_denied(slots.routes[0], jwt::Status::token_expired);
    m.worker(1).auth_denied(slots.routes[0], jwt::Status::token_expired);
    m.worker(1).auth_denied(slots.routes[0], jwt::Status::token_missing);
    m.worker(0).auth_report_only(slots.routes[1], jwt::Status::signature_invalid);
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_auth_denials_total{route=\"api\",reason=\"token_expired\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_auth_denials_total{route=\"api\",reason=\"token_missing\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_auth_report_only_total{route=\"shadow\",reason=\"signature_invalid\"} 1"))
        << text;
    // A report_only route never denies, and a denying route has no report_only series.
    EXPECT_TRUE(lines_starting(text, "authgate_auth_denials_total{route=\"shadow\"").empty()) << text;
    EXPECT_TRUE(lines_starting(text, "authgate_auth_report_only_total{route=\"api\"").empty()) << text;
    // Every label is the status identifier: snake_case, no spaces, never "ok".
    const std::regex snake(R"(reason="[a-z][a-z_]*[a-z]")");
    for (const auto& line : lines_starting(text, "authgate_auth_")) {
        std::smatch m;
        ASSERT_TRUE(std::regex_search(line, m, snake)) << line;
        EXPECT_EQ(m.str().find("\"ok\""), std::string::npos) << line;
    }
}

TEST(Metrics, UpstreamErrorsByKind) {
    Metrics m(2);
    auto slots = m.resolve(1, {{"api"}}, {"legacy", "other"});
    m.worker(0).upstream_error(slots.upstreams[0], UpstreamError::connect_refused);
    m.worker(1).upstream_error(slots.upstreams[0], UpstreamError::connect_refused);
    m.worker(1).upstream_error(slots.upstreams[1], UpstreamError::response_timeout);
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_upstream_errors_total{upstream=\"legacy\",kind=\"connect_refused\"} 2"))
        << text;
    EXPECT_TRUE(has_line(text, "authgate_upstream_errors_total{upstream=\"other\",kind=\"response_timeout\"} 1"))
        << text;
    // Every kind of every upstream is there, at 0 until it happens.
    EXPECT_TRUE(has_line(text, "authgate_upstream_errors_total{upstream=\"other\",kind=\"connect_refused\"} 0"))
        << text;
    EXPECT_EQ(lines_starting(text, "authgate_upstream_errors_total{").size(), 2 * kUpstreamErrors) << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
    Metrics m(2);
    auto slots = m.resolve(1, {{"api"}}, {});
    m.worker(0).response(slots.routes[0], 200, 500us);   // <= 0.001
    m.worker(1).response(slots.routes[0], 200, 3ms);     // <= 0.005
    m.worker(1).response(slots.routes[0], 200, 20s);     // <= 30: an upstream near its timeout
    m.worker(0).response(slots.routes[0], 200, 90s);     // +Inf
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"0.001\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"0.0025\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"10\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"30\"} 3")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"60\"} 3")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 4")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_count{route=\"api\"} 4")) << text;
    EXPECT_TRUE(has_line(text, "authgate_request_duration_seconds_sum{route=\"api\"} 110.0035")) << text;
    EXPECT_EQ(lines_starting(text, "authgate_request_duration_seconds_bucket{route=\"api\"").size(),
              kDurationBounds.size() + 1);
}

TEST(Metrics, SlotsAreKeyedByNameSoReloadsKeepCounting) {
    Metrics m(1);
    auto first = m.resolve(1, {{"a"}, {"b"}}, {"up"});
    m.worker(0).response(first.routes[1], 200, 1ms);
    // The reload reorders the routes, drops "a" and adds "c".
    auto second = m.resolve(2, {{"c"}, {"b"}}, {"up"});
    EXPECT_EQ(second.routes[1], first.routes[1]);
    EXPECT_NE(second.routes[0], first.routes[0]);
    EXPECT_EQ(second.upstreams[0], first.upstreams[0]);
    m.worker(0).response(second.routes[1], 200, 1ms);
    m.worker(0).response(first.routes[0], 200, 1ms);  // a request that started before the reload
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"b\",code=\"200\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"a\",code=\"200\"} 1")) << text;
    EXPECT_EQ(m.route_slot("b"), first.routes[1]);
}

TEST(Metrics, TooManyNamesShareTheOtherSlot) {
    NameSlots slots;
    std::uint32_t last = 0;
    for (std::size_t i = 0; i < slots.capacity() + 10; ++i) last = slots.slot("r" + std::to_string(i));
    EXPECT_EQ(last, slots.capacity() - 1);
    EXPECT_EQ(slots.names().size(), slots.capacity());
    EXPECT_EQ(slots.names().back(), "_other");
    EXPECT_EQ(slots.slot("r0"), 0u);  // earlier names keep theirs
}

TEST(Metrics, LabelValuesAreEscaped) {
    Metrics m(1);
    auto slots = m.resolve(1, {{"we\"ird\\name\nx"}}, {});
    m.worker(0).response(slots.routes[0], 200, 1ms);
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"we\\\"ird\\\\name\\nx\",code=\"200\"} 1")) << text;
}

TEST(Metrics, GaugesReloadsAndProviders) {
    Metrics m(1);
    m.reloads_ok.add();
    m.reloads_ok.add();
    m.reloads_failed.add();
    ScrapeState st;
    st.connections_active = 7;
    st.providers.push_back({"corp", true, false, 0, 3, 0, 0});
    st.providers.push_back({"static", false, true, 0, 0, 0, 2});
    st.providers.push_back({"issuer", true, true, 4, 1, 1700000000.5, 3});
    auto text = m.render(st);
    EXPECT_TRUE(has_line(text, "authgate_connections_active 7")) << text;
    EXPECT_TRUE(has_line(text, "authgate_config_reloads_total{result=\"success\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_config_reloads_total{result=\"failure\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_jwks_keys_available{provider=\"corp\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_jwks_fetches_total{provider=\"corp\",result=\"failure\"} 3")) << text;
    EXPECT_TRUE(lines_starting(text, "authgate_jwks_keys_available{provider=\"static\"").empty()) << text;
    EXPECT_TRUE(has_line(text, "authgate_jwks_last_success_timestamp_seconds{provider=\"corp\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_jwks_last_success_timestamp_seconds{provider=\"issuer\"} 1700000000.5"))
        << text;
    EXPECT_TRUE(has_line(text, "authgate_jwks_keys{provider=\"issuer\"} 3")) << text;
    EXPECT_TRUE(has_line(text, "authgate_jwks_keys{provider=\"corp\"} 0")) << text;
    EXPECT_TRUE(lines_starting(text, "authgate_jwks_keys{provider=\"static\"").empty()) << text;
    EXPECT_TRUE(has_line(text, "authgate_config_last_reload_success_timestamp_seconds 0")) << text;
    m.config_loaded(std::chrono::system_clock::time_point(std::chrono::seconds(1700000123)));
    EXPECT_TRUE(has_line(m.render(st), "authgate_config_last_reload_success_timestamp_seconds 1700000123"));
}

// A scrape while the workers count: each worker's own counter only grows, and the total
// read at the end is exact. (ThreadSanitizer-clean by construction: atomics only.)
TEST(Metrics, ScrapingWhileWorkersCountIsSafe) {
    Metrics m(2);
    auto slots = m.resolve(1, {{"api"}}, {});
    constexpr int kPerWorker = 20000;
    std::vector<std::thread> threads;
    for (std::size_t w = 0; w < 2; ++w) {
        threads.emplace_back([&, w] {
            for (int i = 0; i < kPerWorker; ++i) m.worker(w).response(slots.routes[0], 200, 1ms);
        });
    }
    for (int i = 0; i < 20; ++i) (void)m.render({});
    for (auto& t : threads) t.join();
    auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_requests_total{route=\"api\",code=\"200\"} " + std::to_string(2 * kPerWorker)))
        << text;
}

// Alerts need 0, not nothing: before anything happened every series a route, upstream or
// worker can have is there at 0 (requests_total and the request histogram excepted:
// they appear with their first request).
TEST(Metrics, ZeroSeriesArePresentBeforeAnythingHappens) {
    Metrics m(2);
    m.resolve(1, {{"api", RouteSeries::kAuth | RouteSeries::kCors}, {"shadow", RouteSeries::kReportOnly}, {"open"}},
              {"backend"});
    const auto text = m.render({});
    EXPECT_EQ(lines_starting(text, "authgate_auth_denials_total{route=\"api\",").size(), kAuthReasons - 1) << text;
    EXPECT_TRUE(has_line(text, "authgate_auth_denials_total{route=\"api\",reason=\"keys_unavailable\"} 0")) << text;
    EXPECT_EQ(lines_starting(text, "authgate_auth_report_only_total{route=\"shadow\",").size(), kAuthReasons - 1);
    EXPECT_TRUE(lines_starting(text, "authgate_auth_denials_total{route=\"open\"").empty()) << text;
    EXPECT_TRUE(lines_starting(text, "authgate_auth_denials_total{route=\"\"").empty()) << text;
    EXPECT_TRUE(has_line(text, "authgate_cors_preflights_total{route=\"api\",result=\"allowed\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_cors_preflights_total{route=\"api\",result=\"refused\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_cors_origins_refused_total{route=\"api\"} 0")) << text;
    EXPECT_TRUE(lines_starting(text, "authgate_cors_preflights_total{route=\"open\"").empty()) << text;
    EXPECT_TRUE(has_line(text, "authgate_upstream_errors_total{upstream=\"backend\",kind=\"reset\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_upstream_response_duration_seconds_count{upstream=\"backend\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_token_cache_hits_total 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_token_cache_misses_total 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_token_cache_evictions_total 0")) << text;
    EXPECT_TRUE(has_line(text, "authgate_config_reloads_total{result=\"failure\"} 0")) << text;
    EXPECT_TRUE(lines_starting(text, "authgate_requests_total{").empty()) << text;

    // A reload that takes a route's auth away keeps its series: they never vanish.
    m.resolve(2, {{"api"}}, {"backend"});
    EXPECT_EQ(lines_starting(m.render({}), "authgate_auth_denials_total{route=\"api\",").size(), kAuthReasons - 1);
}

TEST(Metrics, CorsTokenCacheAndUpstreamLatencyAreSummedOverWorkers) {
    Metrics m(2);
    auto slots = m.resolve(1, {{"api", RouteSeries::kCors}}, {"backend"});
    m.worker(0).cors_preflight(slots.routes[0], true);
    m.worker(1).cors_preflight(slots.routes[0], true);
    m.worker(1).cors_preflight(slots.routes[0], false);
    m.worker(0).cors_origin_refused(slots.routes[0]);
    m.worker(0).token_cache.hits.add(3);
    m.worker(1).token_cache.hits.add(2);
    m.worker(1).token_cache.misses.add();
    m.worker(0).token_cache.evictions.add(4);
    m.worker(0).upstream_response(slots.upstreams[0], 2ms);
    m.worker(1).upstream_response(slots.upstreams[0], 45s);
    const auto text = m.render({});
    EXPECT_TRUE(has_line(text, "authgate_cors_preflights_total{route=\"api\",result=\"allowed\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_cors_preflights_total{route=\"api\",result=\"refused\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_cors_origins_refused_total{route=\"api\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_token_cache_hits_total 5")) << text;
    EXPECT_TRUE(has_line(text, "authgate_token_cache_misses_total 1")) << text;
    EXPECT_TRUE(has_line(text, "authgate_token_cache_evictions_total 4")) << text;
    const std::string up = "authgate_upstream_response_duration_seconds_bucket{upstream=\"backend\",le=";
    EXPECT_TRUE(has_line(text, up + "\"0.0025\"} 1")) << text;
    EXPECT_TRUE(has_line(text, up + "\"30\"} 1")) << text;
    EXPECT_TRUE(has_line(text, up + "\"60\"} 2")) << text;  // past the upstream's 30 s default timeout
    EXPECT_TRUE(has_line(text, up + "\"+Inf\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "authgate_upstream_response_duration_seconds_sum{upstream=\"backend\"} 45.002")) << text;
}

// The process_* families read from /proc/self: plausible values for this very process.
TEST(Metrics, ProcessMetricsDescribeThisProcess) {
    std::string text;
    append_process_metrics(text);
    const auto value = [&](const std::string& name) {
        const auto lines = lines_starting(text, name + " ");
        return lines.size() == 1 ? std::stod(lines[0].substr(name.size() + 1)) : -1.0;
    };
    EXPECT_GE(value("process_cpu_seconds_total"), 0.0) << text;
    EXPECT_GT(value("process_resident_memory_bytes"), 1024.0 * 1024) << text;
    EXPECT_GE(value("process_open_fds"), 3.0) << text;  // stdin, stdout, stderr at least
    EXPECT_GE(value("process_max_fds"), value("process_open_fds")) << text;
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double start = value("process_start_time_seconds");
    EXPECT_LE(start, now + 1) << text;
    EXPECT_GT(start, now - 24 * 3600) << text;  // a test binary started today
    EXPECT_TRUE(has_line(text, "# TYPE process_cpu_seconds_total counter")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE process_open_fds gauge")) << text;
    // Opening a file shows.
    const double before = value("process_open_fds");
    const int fd = ::open("/dev/null", O_RDONLY);
    text.clear();
    append_process_metrics(text);
    EXPECT_EQ(value("process_open_fds"), before + 1) << text;
    ::close(fd);
}

}  // namespace
}  // namespace authgate::observe
