// Per-thread state behind the context API. Trivially constructible and destructible
// with constant initialisation, so every access is a plain TLS load with no guard
// call; the parts that need cleanup at thread exit are registered on first use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace prela {
class trace_context;
class span;
}  // namespace prela

namespace prela::detail {

/// What thread_state::pinned_config holds while the thread is not in the registry.
inline constexpr char unlisted_thread = 0;

/// A thread's own list of recycled objects (src/detail/recycling_pool.hpp).
struct free_list {
  void* head = nullptr;
  std::uint32_t count = 0;
};

/// Slots of thread_state::counts, one per detail::counter (src/detail/counters.hpp).
inline constexpr std::size_t counter_slots = 8;

struct thread_state {
  // The installed context, not owned (the installer owns it). Written only by this
  // thread (set_current); other threads read it relaxed: prela::inflight() reports the
  // flow installed here as running.
  std::atomic<trace_context*> current{nullptr};
  trace_context* own = nullptr;  // this thread's own context, created on demand
  free_list free_contexts;       // recycled context blocks (context.cpp)
  free_list free_spans;          // recycled spans (tracer.cpp)
  bool registered = false;       // listed, and the context runtime's exit cleanup registered
  bool exiting = false;          // that cleanup ran: stop caching, count into the shared totals
  // The span cache: opened (with its own exit cleanup) by the thread's first span
  // start, so threads that only end spans keep none; closed by that cleanup.
  bool span_cache_open = false;
  bool span_cache_closed = false;
  thread_state* next = nullptr;        // in the list of live threads (counters)
  const void* eh_globals = nullptr;    // the C++ runtime's exception globals (exception_info.hpp)
  trace_context* unwinding = nullptr;  // see unwinding_mark in context.hpp
  // The tracer configuration this thread last read (null if none, &unlisted_thread
  // while the thread is not in the registry): a configuration the tracer has replaced
  // is freed only when no thread has it here (tracer_impl::pin).
  std::atomic<const void*> pinned_config{&unlisted_thread};
  std::uint32_t sampling = 0;   // depth of sampler calls (tracer_impl::sampling_scope)
  std::uint32_t thread_id = 0;  // the kernel's id of the thread (set on registration)
  void* inflight = nullptr;     // this thread's table of open spans (inflight.hpp)
  // Event counters written only by this thread, read by tracer::stats() (see counters.hpp).
  std::atomic<std::uint64_t> counts[counter_slots] = {};
};

extern constinit thread_local thread_state tls;

/// The context installed on this thread, or nullptr when it has none.
[[gnu::always_inline]] inline trace_context* peek_context() noexcept {
  return tls.current.load(std::memory_order_relaxed);
}
/// Installs `ctx` on this thread (a relaxed store: whether a flow is running is read
/// without stopping it).
[[gnu::always_inline]] inline void set_current(trace_context* ctx) noexcept {
  tls.current.store(ctx, std::memory_order_relaxed);
}

/// Slow path of get_trace_context(): creates and installs the thread's own context.
trace_context& create_own_context();
/// Registers the thread-exit cleanup and lists the thread (counters, the live view).
void register_thread();

/// Installs a flow's context on this thread, listing the thread first if it is not yet
/// (a thread that only resumes flows, never starting a span, would otherwise run them
/// unseen by prela::inflight()). For restoring a previous context, set_current().
[[gnu::always_inline]] inline void install_current(trace_context* ctx) noexcept {
  if (!tls.registered) [[unlikely]]
    register_thread();
  set_current(ctx);
}

}  // namespace prela::detail
