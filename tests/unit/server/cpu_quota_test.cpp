// `server.workers: 0` counts the CPUs a container may use, not the node's.
#include <thread>

#include <gtest/gtest.h>

#include "server/cpu_quota.h"

namespace authgate::server {
namespace {

TEST(CpuQuota, CgroupV2CpuMaxRoundsUp) {
    EXPECT_EQ(cpus_from_cpu_max("200000 100000\n"), 2u);
    EXPECT_EQ(cpus_from_cpu_max("150000 100000"), 2u);  // 1.5 CPUs: two workers, each partly busy
    EXPECT_EQ(cpus_from_cpu_max("50000 100000"), 1u);   // half a CPU still needs one worker
    EXPECT_EQ(cpus_from_cpu_max("400000 100000"), 4u);
}

TEST(CpuQuota, NoLimitOrGarbageIsNoLimit) {
    EXPECT_FALSE(cpus_from_cpu_max("max 100000\n"));
    EXPECT_FALSE(cpus_from_cpu_max(""));
    EXPECT_FALSE(cpus_from_cpu_max("100000"));
    EXPECT_FALSE(cpus_from_cpu_max("x 100000"));
    EXPECT_FALSE(cpus_from_cpu_max("100000 0"));
}

TEST(CpuQuota, CgroupV1Cfs) {
    EXPECT_EQ(cpus_from_cfs(300000, 100000), 3u);
    EXPECT_EQ(cpus_from_cfs(250000, 100000), 3u);
    EXPECT_FALSE(cpus_from_cfs(-1, 100000));  // v1's "no limit"
    EXPECT_FALSE(cpus_from_cfs(100000, 0));
}

TEST(CpuQuota, AvailableCpusIsAtLeastOneAndAtMostTheMachines) {
    const unsigned n = available_cpus();
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace authgate::server
