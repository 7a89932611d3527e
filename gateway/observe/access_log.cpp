#include "observe/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <mutex>
#include <utility>

#include <spdlog/details/null_mutex.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace authgate::observe {
namespace {

// A single-threaded sink that batches lines in memory and hands them to the kernel in one
// write(2): the worker that owns it is its only writer, so it needs no mutex.
class BufferedFdSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
    explicit BufferedFdSink(int fd) : fd_(fd) { buffer_.reserve(kFlushAt * 2); }
    ~BufferedFdSink() override { flush_(); }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        buffer_.append(msg.payload.data(), msg.payload.size());
        buffer_.push_back('\n');
        if (buffer_.size() >= kFlushAt) flush_();
    }
    void flush_() override {
        std::size_t off = 0;
        while (off < buffer_.size()) {
            ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // a broken log pipe must not stop the proxy
            off += static_cast<std::size_t>(n);
        }
        buffer_.clear();
    }

private:
    static constexpr std::size_t kFlushAt = 32 * 1024;
    int fd_;
    std::string buffer_;
};

void format_time(std::string& out, std::chrono::system_clock::time_point tp) {
    auto secs = std::chrono::time_point_cast<std::chrono::seconds>(tp);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp - secs).count();
    std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    auto n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    out.append(buf, static_cast<std::size_t>(n));
}

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, surrogates or code
// points above U+10FFFF) starting at s[i], or 0 when there is none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = at(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k) {
        if ((at(i + k) & 0xc0) != 0x80) return 0;
    }
    return n;
}

// The body of a JSON string for `s` (no quotes), appended to a std::string or an spdlog
// buffer: runs of plain characters are copied whole.
template <class Out>
void escape_json(Out& out, std::string_view s) {
    const auto put = [&](std::string_view t) { out.append(t.data(), t.data() + t.size()); };
    std::size_t run = 0;  // start of the pending plain run
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            if (const std::size_t n = utf8_length(s, i)) {
                i += n;
                continue;
            }
        }
        put(s.substr(run, i - run));
        switch (c) {
            case '"': put("\\\""); break;
            case '\\': put("\\\\"); break;
            case '\n': put("\\n"); break;
            case '\r': put("\\r"); break;
            case '\t': put("\\t"); break;
            default:
                if (c >= 0x80) {
                    put("\\ufffd");  // not UTF-8: JSON text must be
                } else {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    put(buf);
                }
        }
        run = ++i;
    }
    put(s.substr(run));
}

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Whether the raw (percent-encoded, '+' for space) query parameter name decodes to
// `name`, as the token extractor decodes it; compared on the fly, without allocating.
bool decoded_equals(std::string_view raw, std::string_view name) {
    std::size_t j = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            if (i + 2 >= raw.size()) return false;  // truncated escape
            const int hi = hex(raw[i + 1]);
            const int lo = hex(raw[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (j >= name.size() || name[j] != c) return false;
        ++j;
    }
    return j == name.size();
}

// The JSON application log's message: %v escaped for a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        escape_json(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    escape_json(out, s);
    out.push_back('"');
}

bool redact_query(std::string_view target, std::span<const std::string> params, std::string& out) {
    if (params.empty()) return false;
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return false;
    const std::string_view query = target.substr(q + 1);
    // Where the value of a secret parameter starts in `pair`, or npos.
    const auto secret_value = [&](std::string_view pair) {
        const std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos || eq + 1 == pair.size()) return std::string_view::npos;
        const std::string_view name = pair.substr(0, eq);
        for (const auto& p : params) {
            if (decoded_equals(name, p)) return eq + 1;
        }
        return std::string_view::npos;
    };
    const auto for_each_pair = [&](auto&& f) {
        for (std::size_t pos = 0;;) {
            const std::size_t amp = query.find('&', pos);
            const bool last = amp == std::string_view::npos;
            f(query.substr(pos, last ? std::string_view::npos : amp - pos), last);
            if (last) return;
            pos = amp + 1;
        }
    };
    bool any = false;
    for_each_pair([&](std::string_view pair, bool) { any = any || secret_value(pair) != std::string_view::npos; });
    if (!any) return false;
    out.assign(target.substr(0, q + 1));
    for_each_pair([&](std::string_view pair, bool last) {
        const std::size_t v = secret_value(pair);
        if (v == std::string_view::npos) {
            out += pair;
        } else {
            out += pair.substr(0, v);
            out += "REDACTED";
        }
        if (!last) out += '&';
    });
    return true;
}

AccessLog::AccessLog(int fd, bool json)
    : logger_(std::make_shared<spdlog::logger>("access", std::make_shared<BufferedFdSink>(fd))), json_(json) {
    logger_->set_pattern("%v");
    logger_->set_level(spdlog::level::info);
    logger_->flush_on(spdlog::level::off);
}

AccessLog::~AccessLog() { flush(); }

void AccessLog::flush() { logger_->flush(); }

void AccessLog::write(const AccessRecord& r) {
    // Paths and ids come from the network: escape them so a line can never be forged.
    std::string line;
    line.reserve(256);
    // A token in the query string stays out of the log; a target without one costs a scan.
    std::string_view path = r.path;
    std::string redacted;
    if (redact_query(r.path, r.redact_query_params, redacted)) path = redacted;
    double ms = static_cast<double>(r.duration.count()) / 1000.0;
    if (json_) {
        line += "{\"time\":\"";
        format_time(line, r.time);
        line += '"';
        const std::pair<const char*, std::string_view> strings[] = {
            {"request_id", r.request_id}, {"client", r.client}, {"method", r.method},
            {"path", path},               {"route", r.route},   {"upstream", r.upstream}};
        for (const auto& [name, value] : strings) {
            line += ",\"";
            line += name;
            line += "\":";
            append_json_string(line, value);
        }
        line += fmt::format(",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3f},\"auth\":", r.status,
                            r.bytes_in, r.bytes_out, ms);
        append_json_string(line, r.auth);
        if (!r.provider.empty()) {
            line += ",\"provider\":";
            append_json_string(line, r.provider);
        }
        if (!r.upstream_error.empty()) {
            line += ",\"upstream_error\":";
            append_json_string(line, r.upstream_error);
        }
        if (!r.protocol.empty()) {
            line += ",\"protocol\":";
            append_json_string(line, r.protocol);
        }
        line += '}';
    } else {
        format_time(line, r.time);
        line += " ";
        append_json_string(line, r.request_id);
        line += ' ';
        line += r.client;
        line += ' ';
        line += '"';
        escape_json(line, r.method);
        line += ' ';
        escape_json(line, path);
        line += '"';
        line += fmt::format(" route={} upstream={} status={} in={} out={} dur_ms={:.3f} auth={}",
                            r.route.empty() ? "-" : r.route, r.upstream.empty() ? "-" : r.upstream, r.status,
                            r.bytes_in, r.bytes_out, ms, r.auth.empty() ? "-" : r.auth);
        if (!r.provider.empty()) {
            line += " provider=";
            line += r.provider;
        }
        if (!r.upstream_error.empty()) {
            line += " upstream_error=";
            line += r.upstream_error;
        }
        if (!r.protocol.empty()) {
            line += " protocol=";
            line += r.protocol;
        }
    }
    logger_->info(line);
}

bool configure_app_log(std::string_view level, std::string_view format) {
    auto lvl = spdlog::level::from_str(std::string(level));
    if (lvl == spdlog::level::off && level != "off") return false;
    auto logger = spdlog::get("authgate");
    if (!logger) logger = spdlog::stderr_logger_mt("authgate");
    spdlog::set_default_logger(logger);
    spdlog::set_level(lvl);
    spdlog::set_formatter(make_app_log_formatter(format));
    return true;
}

bool reconfigure_app_log(std::string_view level, std::string_view format) {
    auto lvl = spdlog::level::from_str(std::string(level));
    if (lvl == spdlog::level::off && level != "off") return false;
    // Not configure_app_log(): replacing the default logger is not safe while others log.
    spdlog::set_level(lvl);
    spdlog::set_formatter(make_app_log_formatter(format));
    return true;
}

std::unique_ptr<spdlog::formatter> make_app_log_formatter(std::string_view format) {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (format == "json") {
        // Every message, whatever it holds (paths, quotes, newlines from the network or a
        // config), stays one valid JSON object per line: %* is %v escaped.
        f->add_flag<JsonMessageFlag>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    } else {
        f->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v");
    }
    return f;
}

}  // namespace authgate::observe
