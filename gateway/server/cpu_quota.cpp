#include "server/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string>
#include <thread>

namespace authgate::server {
namespace {

std::optional<long long> parse_number(std::string_view s) {
    long long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::string> read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
}

}  // namespace

std::optional<unsigned> cpus_from_cfs(long long quota_us, long long period_us) {
    if (quota_us <= 0 || period_us <= 0) return std::nullopt;
    return static_cast<unsigned>(std::max<long long>(1, (quota_us + period_us - 1) / period_us));
}

std::optional<unsigned> cpus_from_cpu_max(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    const auto space = text.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const auto quota = text.substr(0, space);
    const auto period = parse_number(text.substr(space + 1));
    if (quota == "max" || !period) return std::nullopt;
    const auto q = parse_number(quota);
    if (!q) return std::nullopt;
    return cpus_from_cfs(*q, *period);
}

unsigned available_cpus() {
    unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = std::max(1, CPU_COUNT(&set));
    std::optional<unsigned> limit;
    if (const auto line = read_first_line("/sys/fs/cgroup/cpu.max")) {
        limit = cpus_from_cpu_max(*line);
    } else {
        const auto quota = read_first_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
        const auto period = read_first_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
        const auto q = quota ? parse_number(*quota) : std::nullopt;
        const auto p = period ? parse_number(*period) : std::nullopt;
        if (q && p) limit = cpus_from_cfs(*q, *p);
    }
    return limit ? std::min(cpus, *limit) : cpus;
}

}  // namespace authgate::server
