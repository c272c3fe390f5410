// The span and export side's per-thread state, beside the context runtime's
// (prela/detail/thread_state.hpp): the thread's place in the thread registry, its event
// counters, its configuration pin, its span cache and its table of open spans. Private
// to the library; constant-initialised and trivially destructible like the runtime's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "prela/detail/thread_state.hpp"

namespace prela::detail {

/// What sdk_thread_state::pinned_config holds while the thread is not in the registry.
inline constexpr char unlisted_thread = 0;

/// Slots of sdk_thread_state::counts, one per detail::counter (counters.hpp).
inline constexpr std::size_t counter_slots = 8;

/// The thread's place in the registry: not listed yet, listed (counting into its own
/// slots, announcing its configuration pin), or gone (its exit cleanup ran: it counts
/// into the shared totals and pins without announcing).
enum class registry_phase : std::uint8_t { unlisted, listed, exited };

struct sdk_thread_state {
  registry_phase phase = registry_phase::unlisted;
  cache_state spans = cache_state::unopened;  // the span cache (tracer.cpp)
  std::uint32_t sampling = 0;                 // depth of sampler calls (tracer_impl::sampling_scope)
  std::uint32_t thread_id = 0;                // the kernel's id of the thread (set when listed)
  free_list free_spans;                       // recycled spans (tracer.cpp)
  sdk_thread_state* next = nullptr;           // in the registry's list of live threads
  thread_state* runtime = nullptr;            // the same thread's context runtime state
  void* inflight = nullptr;                   // this thread's table of open spans (inflight.hpp)
  const void* eh_globals = nullptr;           // the C++ runtime's exception globals (exception_info.hpp)
  // The tracer configuration this thread last read (null if none, &unlisted_thread
  // while the thread is not in the registry): a configuration the tracer has replaced
  // is freed only when no thread has it here (tracer_impl::pin).
  std::atomic<const void*> pinned_config{&unlisted_thread};
  // Event counters written only by this thread, read by tracer::stats() (counters.hpp).
  std::atomic<std::uint64_t> counts[counter_slots] = {};
};

extern constinit thread_local sdk_thread_state sdk_tls;

}  // namespace prela::detail
