// The context runtime's per-thread state: which flow's context is installed on this
// thread, the thread's own context, and its cache of context blocks. Trivially
// constructible and destructible with constant initialisation, so every access is a
// plain TLS load with no guard call; the context cache's thread-exit cleanup is
// registered on first use. The span and export side keeps a state of its own
// (src/detail/sdk_thread_state.hpp).
#pragma once

#include <atomic>
#include <cstdint>

namespace prela {
class trace_context;
}  // namespace prela

namespace prela::detail {

/// A thread's own list of recycled objects (src/detail/recycling_pool.hpp).
struct free_list {
  void* head = nullptr;
  std::uint32_t count = 0;
};

/// Whether a thread's cache of recycled blocks is usable: not yet (its exit cleanup is
/// registered on first use), open, or closed by that cleanup (blocks then go straight
/// to the shared pool).
enum class cache_state : std::uint8_t { unopened, open, closed };

struct thread_state {
  // The installed context, not owned (the installer owns it). Written only by this
  // thread (set_current); other threads read it relaxed: prela::inflight() reports the
  // flow installed here as running.
  std::atomic<trace_context*> current{nullptr};
  trace_context* own = nullptr;        // this thread's own context, created on demand
  trace_context* unwinding = nullptr;  // see unwinding_mark in flow.hpp
  free_list free_contexts;             // recycled context blocks (context.cpp)
  cache_state contexts = cache_state::unopened;
  bool listed = false;  // in the thread registry, which reads `current` (register_thread)
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
/// Lists the thread in the thread registry (counters, configuration pins, the live
/// view) and registers the registry's thread-exit cleanup. Sets tls.listed.
void register_thread();

/// Installs a flow's context on this thread, listing the thread first if it is not yet
/// (a thread that only resumes flows, never starting a span, would otherwise run them
/// unseen by prela::inflight()). For restoring a previous context, set_current().
[[gnu::always_inline]] inline void install_current(trace_context* ctx) noexcept {
  if (!tls.listed) [[unlikely]]
    register_thread();
  set_current(ctx);
}

}  // namespace prela::detail
