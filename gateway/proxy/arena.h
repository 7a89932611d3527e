// Per-connection bump allocator for the header fields of one exchange. Beast allocates
// every header line separately; with the general-purpose heap that was a malloc/free pair
// per field (about 16 per proxied request), more than a tenth of the gateway's own CPU.
// Here a field costs a pointer bump, deallocation is a no-op, and the whole exchange's
// memory is released at once by reset() when the exchange is over.
//
// Bounded: an exchange can only allocate what its (size-limited) headers need, plus the
// lines the gateway adds. Blocks beyond the inline one come from the heap and are returned
// by reset(). Not thread-safe: one arena per session, used by that session's worker only.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace authgate::proxy {

class Arena {
public:
    Arena() = default;
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    void* allocate(std::size_t bytes, std::size_t align) {
        std::size_t offset = (used_ + align - 1) & ~(align - 1);
        if (offset + bytes > capacity_) {
            grow(bytes + align);
            offset = (used_ + align - 1) & ~(align - 1);
        }
        used_ = offset + bytes;
        return current_ + offset;
    }

    // Forgets every allocation. Nothing allocated before may be used afterwards.
    void reset() {
        if (!spill_.empty()) spill_.clear();
        current_ = inline_;
        capacity_ = sizeof inline_;
        used_ = 0;
    }

    std::size_t spilled_blocks() const { return spill_.size(); }

private:
    static constexpr std::size_t kBlock = 16 * 1024;

    void grow(std::size_t at_least) {
        const std::size_t size = at_least > kBlock ? at_least : kBlock;
        spill_.push_back(std::make_unique<std::byte[]>(size));
        current_ = spill_.back().get();
        capacity_ = size;
        used_ = 0;
    }

    alignas(std::max_align_t) std::byte inline_[4096];
    std::byte* current_ = inline_;
    std::size_t capacity_ = sizeof inline_;
    std::size_t used_ = 0;
    std::vector<std::unique_ptr<std::byte[]>> spill_;
};

// std::allocator interface over an Arena, for Beast's basic_fields.
template <class T>
class ArenaAllocator {
public:
    using value_type = T;
    using propagate_on_container_move_assignment = std::true_type;

    explicit ArenaAllocator(Arena& arena) noexcept : arena_(&arena) {}
    template <class U>
    ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena_(other.arena()) {}

    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
    }
    void deallocate(T*, std::size_t) noexcept {}  // released together by Arena::reset()

    Arena* arena() const noexcept { return arena_; }
    template <class U>
    bool operator==(const ArenaAllocator<U>& other) const noexcept {
        return arena_ == other.arena();
    }

private:
    Arena* arena_;
};

}  // namespace authgate::proxy
