#include "observe/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <mutex>
#include <utility>

#include <spdlog/details/null_mutex.h>
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

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
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
    double ms = static_cast<double>(r.duration.count()) / 1000.0;
    if (json_) {
        line += "{\"time\":\"";
        format_time(line, r.time);
        line += '"';
        const std::pair<const char*, std::string_view> strings[] = {
            {"request_id", r.request_id}, {"client", r.client}, {"method", r.method},
            {"path", r.path},             {"route", r.route},   {"upstream", r.upstream}};
        for (const auto& [name, value] : strings) {
            line += ",\"";
            line += name;
            line += "\":";
            append_json_string(line, value);
        }
        line += fmt::format(",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3f},\"auth\":", r.status,
                            r.bytes_in, r.bytes_out, ms);
        append_json_string(line, r.auth);
        line += '}';
    } else {
        format_time(line, r.time);
        line += " ";
        append_json_string(line, r.request_id);
        line += ' ';
        line += r.client;
        line += ' ';
        append_json_string(line, std::string(r.method) + " " + std::string(r.path));
        line += fmt::format(" route={} upstream={} status={} in={} out={} dur_ms={:.3f} auth={}",
                            r.route.empty() ? "-" : r.route, r.upstream.empty() ? "-" : r.upstream, r.status,
                            r.bytes_in, r.bytes_out, ms, r.auth.empty() ? "-" : r.auth);
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
    if (format == "json") {
        spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);
    } else {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    }
    return true;
}

}  // namespace authgate::observe
