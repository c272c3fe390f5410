// Per-thread state behind the context API. Trivially constructible and destructible
// with constant initialisation, so every access is a plain TLS load with no guard
// call; the parts that need cleanup at thread exit are registered on first use.
#pragma once

#include <cstdint>

namespace prela {
class trace_context;
class span;
}  // namespace prela

namespace prela::detail {

struct thread_state {
  trace_context* current = nullptr;  // installed context, not owned (the installer owns it)
  trace_context* own = nullptr;      // this thread's own context, created on demand
  span* free_spans = nullptr;        // recycled span objects (singly linked)
  std::uint32_t free_count = 0;
  std::uint32_t index = 0;           // small per-thread number for sharded counters
  bool registered = false;           // exit cleanup registered
  bool exiting = false;              // cleanup ran: stop caching
};

extern constinit thread_local thread_state tls;

/// Slow path of get_trace_context(): creates and installs the thread's own context.
trace_context& create_own_context();
/// Registers the thread-exit cleanup and assigns tls.index.
void register_thread();

}  // namespace prela::detail
