// Process-wide event counters behind tracer::stats(). Each thread counts into its own
// slots (a plain load and store, no locked instruction: one writer per slot);
// stats() adds up the live threads' slots and what exited threads left behind.
#pragma once

#include <cstddef>
#include <cstdint>

#include "detail/sdk_thread_state.hpp"

namespace prela::detail {

enum class counter : std::uint8_t {
  started,
  ended,
  exported,
  dropped,
  export_failures,
  mutations_after_end,
  context_mismatches,
  slow_spans,
};
static_assert(static_cast<std::size_t>(counter::slow_spans) + 1 == counter_slots,
              "sdk_thread_state::counts has one slot per counter");

/// Adds n to this thread's slot (or, once the thread has left the registry, to the
/// shared total).
void count_slow(counter c, std::uint64_t n) noexcept;

inline void count(counter c, std::uint64_t n = 1) noexcept {
  sdk_thread_state& t = sdk_tls;
  if (t.phase == registry_phase::listed) [[likely]] {
    auto& slot = t.counts[static_cast<std::size_t>(c)];
    slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    return;
  }
  count_slow(c, n);
}

/// Sum over every thread that ever counted.
std::uint64_t total(counter c) noexcept;

/// Thread exit: folds this thread's slots into the shared totals.
void retire_thread_counts() noexcept;

}  // namespace prela::detail
