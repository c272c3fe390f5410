// Event counters written from many threads at once. One cache line per shard so that
// threads ending spans concurrently do not contend on a shared counter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "prela/detail/thread_state.hpp"

namespace prela::detail {

inline std::uint32_t thread_index() noexcept {
  if (!tls.registered) register_thread();
  return tls.index;
}

class sharded_counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    shards_[thread_index() % shard_count].value.fetch_add(n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr std::size_t shard_count = 16;
  struct alignas(64) shard {
    std::atomic<std::uint64_t> value{0};
  };
  std::array<shard, shard_count> shards_{};
};

struct tracer_counters {
  sharded_counter started, ended, exported, dropped, export_failures, mutations_after_end,
      context_mismatches;
};

}  // namespace prela::detail
