#include "proxy/arena.h"

#include <cstdint>
#include <cstring>
#include <string>

#include <boost/beast/http/fields.hpp>
#include <gtest/gtest.h>

#include "proxy/headers.h"

using namespace authgate::proxy;

TEST(Arena, AllocationsAreAlignedAndDisjoint) {
    Arena arena;
    auto* a = static_cast<char*>(arena.allocate(3, 1));
    auto* b = arena.allocate(8, 8);
    auto* c = arena.allocate(16, 16);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 8, 0u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % 16, 0u);
    EXPECT_GE(static_cast<char*>(b), a + 3);
    EXPECT_GE(static_cast<char*>(c), static_cast<char*>(b) + 8);
    EXPECT_EQ(arena.spilled_blocks(), 0u);
}

TEST(Arena, SpillsBeyondTheInlineBlockAndResetReturnsIt) {
    Arena arena;
    void* first = arena.allocate(64, 8);
    for (int i = 0; i < 100; ++i) arena.allocate(1000, 8);  // well past the inline 4 KiB
    EXPECT_GT(arena.spilled_blocks(), 0u);
    void* big = arena.allocate(100000, 8);  // larger than a spill block: its own block
    std::memset(big, 0xAB, 100000);
    arena.reset();
    EXPECT_EQ(arena.spilled_blocks(), 0u);
    EXPECT_EQ(arena.allocate(64, 8), first);  // the inline block is reused from the start
}

TEST(Arena, BeastFieldsLiveInIt) {
    Arena arena;
    {
        ArenaFields f{ArenaAllocator<char>(arena)};
        for (int i = 0; i < 500; ++i) f.insert("X-Field-" + std::to_string(i), std::string(40, 'v'));
        f.set("X-Field-7", "replaced");
        EXPECT_EQ(f["X-Field-7"], "replaced");
        EXPECT_EQ(f["X-Field-499"], std::string(40, 'v'));
        strip_hop_by_hop(f, false);
        append_to_list(f, "Via", "1.1 authgate");
        EXPECT_EQ(f["Via"], "1.1 authgate");
        EXPECT_GT(arena.spilled_blocks(), 0u);
    }
    arena.reset();
    EXPECT_EQ(arena.spilled_blocks(), 0u);
}
