// How many CPUs this process may really use, for `server.workers: 0`: the scheduler's
// affinity mask, capped by a cgroup CPU quota (a container's or pod's CPU limit), which
// std::thread::hardware_concurrency() ignores: a pod limited to 2 CPUs on a 64-core node
// would otherwise start 64 workers and be throttled.
#pragma once

#include <optional>
#include <string_view>

namespace authgate::server {

// CPUs a cgroup v2 `cpu.max` ("QUOTA PERIOD", or "max PERIOD" for no limit) allows,
// rounded up; nullopt without a limit or when the text does not parse.
std::optional<unsigned> cpus_from_cpu_max(std::string_view text);

// The same for cgroup v1 (cpu.cfs_quota_us, cpu.cfs_period_us; quota -1 = no limit).
std::optional<unsigned> cpus_from_cfs(long long quota_us, long long period_us);

// The affinity mask's CPU count, capped by the cgroup quota of this process (v2 first,
// then v1); at least 1.
unsigned available_cpus();

}  // namespace authgate::server
