// process_* metrics as the Prometheus client libraries name them, so the usual process
// dashboards and alerts work unchanged. Read at scrape time, on the admin thread.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <string>
#include <vector>

#include "config/files.h"
#include "observe/metrics.h"

namespace authgate::observe {
namespace {

// The fields of /proc/self/stat from the third (state) on: the second, the command name,
// is in parentheses and may itself hold spaces and parentheses.
std::vector<std::string_view> stat_fields(const std::string& stat) {
    std::vector<std::string_view> out;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return out;
    std::string_view rest(stat);
    rest.remove_prefix(close + 1);
    while (!rest.empty()) {
        const auto start = rest.find_first_not_of(" \n");
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        const auto end = rest.find_first_of(" \n");
        out.push_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end);
    }
    return out;
}

bool parse(std::string_view s, std::uint64_t& v) {
    return std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc() && !s.empty();
}

// Seconds since the epoch at boot, from /proc/stat's btime.
bool boot_time(std::uint64_t& out) {
    std::ifstream f("/proc/stat");
    for (std::string line; std::getline(f, line);) {
        if (line.rfind("btime ", 0) == 0) return parse(std::string_view(line).substr(6), out);
    }
    return false;
}

void gauge(std::string& out, std::string_view name, std::string_view type, std::string_view help, double v) {
    family(out, name, type, help);
    out += name;
    out += ' ';
    append_number(out, v);
    out += '\n';
}

}  // namespace

void append_process_metrics(std::string& out) {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const auto stat = config::read_file("/proc/self/stat").value_or("");
    const auto f = stat_fields(stat);
    // Indexes into f: field N of proc(5) is f[N - 3].
    std::uint64_t utime = 0, stime = 0, starttime = 0, rss = 0, btime = 0;
    if (f.size() > 21 && ticks > 0 && parse(f[11], utime) && parse(f[12], stime)) {
        gauge(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
              static_cast<double>(utime + stime) / ticks);
    }
    if (f.size() > 21 && parse(f[21], rss)) {
        gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
              static_cast<double>(rss) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
    }
    if (DIR* d = ::opendir("/proc/self/fd")) {
        std::uint64_t n = 0;
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++n;
        }
        ::closedir(d);
        gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.",
              static_cast<double>(n > 0 ? n - 1 : 0));  // less the one reading the directory
    }
    if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
              static_cast<double>(lim.rlim_cur));
    }
    if (f.size() > 21 && ticks > 0 && parse(f[19], starttime) && boot_time(btime)) {
        gauge(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
              static_cast<double>(btime) + static_cast<double>(starttime) / ticks);
    }
}

}  // namespace authgate::observe
