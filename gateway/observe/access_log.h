// One access-log line per request, text or JSON. Each worker owns one AccessLog and its
// buffer: lines are appended without locks and written with one write(2) per flush
// (when the buffer fills, and on the worker's flush timer).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

namespace authgate::observe {

struct AccessRecord {
    std::chrono::system_clock::time_point time;
    std::string_view request_id;
    std::string_view client;
    std::string_view method;
    std::string_view path;      // target as received, query included
    // Query parameters whose values are secrets (tokens, `token_from: query`): each one's
    // value is written as REDACTED (proxy::Snapshot::query_token_params).
    std::span<const std::string> redact_query_params;
    std::string_view route;     // "" when none matched
    std::string_view upstream;  // endpoint "host:port" or ""
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::chrono::microseconds duration{0};
    std::string_view auth;  // jwt status string or ""
    std::string_view provider;  // the jwt provider that decided, or "" (then not written)
    // proxy::UpstreamError's string (the 502/504's error_description and the metric's kind)
    // when the exchange with the upstream failed; "" otherwise, and then not written.
    std::string_view upstream_error;
    // The protocol the client spoke: "h1" (HTTP/1.x) or "h2"; written when set (added).
    std::string_view protocol;
};

class AccessLog {
public:
    // fd: where lines go (1 = stdout). json: log.format == json.
    AccessLog(int fd, bool json);
    ~AccessLog();
    void write(const AccessRecord& r);
    void flush();
    // Only from the thread that writes (the worker, when it installs a reloaded config).
    void set_json(bool json) { json_ = json; }

private:
    std::shared_ptr<spdlog::logger> logger_;
    bool json_;
};

// JSON string escaping for log lines and error bodies: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, so the result always parses.
void append_json_string(std::string& out, std::string_view s);

// `target` with the value of every query parameter named in `params` (its name compared
// percent-decoded, as the token extractor finds it) replaced by REDACTED. Returns false,
// without touching `out` or allocating, when no parameter needs it.
bool redact_query(std::string_view target, std::span<const std::string> params, std::string& out);

// The application log's formatter: "text" (time level message) or "json" (one object per
// line, {"time","level","msg"}, the message escaped as a JSON string).
std::unique_ptr<spdlog::formatter> make_app_log_formatter(std::string_view format);

// Sets up the process-wide application logger (stderr; level and format from config).
// Returns false for an unknown level.
bool configure_app_log(std::string_view level, std::string_view format);

// A reload's log.level and log.format for the application logger, while other threads
// log: the level is an atomic store and the stderr sink swaps its formatter under the
// mutex it writes under, so a line is written whole in either the old or the new format.
// Returns false (and changes nothing) for an unknown level.
bool reconfigure_app_log(std::string_view level, std::string_view format);

}  // namespace authgate::observe
