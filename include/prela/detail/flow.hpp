// The machinery that installs flows' contexts on threads: context memory blocks and
// weak references to contexts, the guards that install a context for a scope (and
// enforce that one context is installed on one thread at a time), and how misuse is
// reported. Used by the executors of prela/asio and by the core's sources.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "prela/detail/ref_ptr.hpp"
#include "prela/detail/thread_state.hpp"

namespace prela {
class trace_context;
}  // namespace prela

namespace prela::detail {

/// What prela could not do as asked; each is counted in tracer_stats::context_mismatches
/// and reported once, with what prela knows about its cause.
enum class misuse : std::uint8_t {
  /// A flow's context was to be installed on a thread while another thread had it
  /// installed; the work ran under its thread's own context instead.
  installed_elsewhere,
  /// A new_trace_context() scope ended in another flow than the one it was opened in:
  /// the previous trace was not put back (that would race with the flow's own thread).
  trace_scope_in_other_flow,
};
/// Counts a misuse and reports its kind once (the span scope cases are reported by the
/// scope itself, with its name).
void report_misuse(misuse kind) noexcept;

/// Contexts are placed in blocks whose header holds a generation counter and the
/// context's owner (see context.cpp); the object starts this many bytes into its block.
/// The header outlives every context placed in the block: blocks are never freed.
inline constexpr std::size_t context_block_header = 24;
inline constexpr std::size_t context_block_owner = 8;

/// Generation of the memory block holding a context: changes when the context dies.
inline std::uint32_t generation_of(const trace_context* ctx) noexcept {
  const auto* header = reinterpret_cast<const unsigned char*>(ctx) - context_block_header;
  return reinterpret_cast<const std::atomic<std::uint32_t>*>(header)->load(std::memory_order_acquire);
}

/// The thread that has the context installed now (nullptr: none). A context other than
/// a thread's own is installed only through flow_guard, which claims it here: the span
/// stack is single-threaded state, so two threads never share it. It lives in the
/// block's header, not in the context, so that a thread releasing its claim after
/// another thread destroyed the context (which clears the claim) and a third placed a
/// new one in the block touches an atomic that was never reconstructed, and, releasing
/// by compare-and-swap, only a claim that is still its own.
inline std::atomic<const thread_state*>& owner_of(const trace_context* ctx) noexcept {
  auto* header = reinterpret_cast<unsigned char*>(const_cast<trace_context*>(ctx)) - context_block_header;
  return *reinterpret_cast<std::atomic<const thread_state*>*>(header + context_block_owner);
}

/// A reference that does not keep a context alive but can tell whether it still is.
/// Copying it costs nothing, which is why task executors (copied many times per
/// resumption inside Asio) carry one while the task's coroutine frame owns the context.
struct weak_context {
  trace_context* ptr = nullptr;
  std::uint32_t generation = 0;

  static weak_context of(trace_context* ctx) noexcept {
    return {ctx, ctx != nullptr ? generation_of(ctx) : 0};
  }
  /// The context if it is still the one referred to, else nullptr.
  [[nodiscard]] trace_context* get() const noexcept {
    return ptr != nullptr && generation_of(ptr) == generation ? ptr : nullptr;
  }
  friend bool operator==(const weak_context&, const weak_context&) noexcept = default;
};

/// Installs a context on this thread for the guard's lifetime, then puts back whatever
/// was installed before, without claiming it: only for a context no other thread can
/// reach (a fork made for this one call). Shared contexts go through flow_guard. The
/// caller keeps the context alive.
class context_guard {
 public:
  explicit context_guard(trace_context* ctx) noexcept : previous_(peek_context()) { install_current(ctx); }
  context_guard(const context_guard&) = delete;
  context_guard& operator=(const context_guard&) = delete;
  ~context_guard() { set_current(previous_); }

 private:
  trace_context* previous_;
};

/// Installs a flow's context (a task's, a fork held by an executor or a handler) on this
/// thread for the guard's lifetime, then puts back whatever was installed before. This
/// is where the invariant holds: a context is installed on at most one thread at a
/// time. The guard claims the context. If another thread has it installed, the guard
/// installs nothing and busy() is true: the caller either runs its work later (see
/// prela::asio's executors) or calls fall_back(), which installs this thread's own
/// context and counts and reports the event (misuse::installed_elsewhere): the work may
/// mis-nest, it never shares a span stack. A context this thread already has installed
/// (an inline dispatch inside its own run) is installed again without a claim.
class flow_guard {
 public:
  /// For a context the caller keeps alive.
  [[gnu::always_inline]] explicit flow_guard(trace_context* ctx) noexcept : previous_(peek_context()) {
    if (ctx != nullptr) install(ctx);
  }
  /// For a context known by a weak reference (ptr, generation): if it has died, this
  /// thread's own context is installed instead.
  [[gnu::always_inline]] flow_guard(trace_context* ctx, std::uint32_t generation) noexcept
      : previous_(peek_context()) {
    if (ctx != nullptr && generation_of(ctx) == generation) [[likely]] {
      install(ctx);
    } else {
      set_current(tls.own);  // nullptr until first needed: get_trace_context() creates it
    }
  }
  flow_guard(const flow_guard&) = delete;
  flow_guard& operator=(const flow_guard&) = delete;
  [[gnu::always_inline]] ~flow_guard() {
    set_current(previous_);
    // Release: the next thread to claim the context sees every change made under it.
    // The context may have died meanwhile: its task's last resumption destroys it (the
    // coroutine frame owns it), and another thread may destroy the frame while this one
    // still holds the claim. Its block may then already hold another context, claimed
    // by another thread: only a claim that is still this thread's is released.
    if (claimed_ != nullptr) {
      const thread_state* mine = &tls;
      owner_of(claimed_).compare_exchange_strong(mine, nullptr, std::memory_order_release,
                                                 std::memory_order_relaxed);
    }
  }

  /// True if another thread has the context installed: nothing was installed.
  [[nodiscard]] bool busy() const noexcept { return busy_; }
  /// After busy(): runs under this thread's own context instead, counted and reported.
  void fall_back() noexcept {
    busy_ = false;
    set_current(tls.own);
    report_misuse(misuse::installed_elsewhere);
  }

 private:
  [[gnu::always_inline]] void install(trace_context* ctx) noexcept {
    // Already current here (the second function of a resumption, dispatched inline from
    // the first): this thread holds it, nothing to claim.
    if (previous_ == ctx) return;
    const thread_state* expected = nullptr;
    if (owner_of(ctx).compare_exchange_strong(expected, &tls, std::memory_order_acquire,
                                              std::memory_order_relaxed)) [[likely]] {
      claimed_ = ctx;
      install_current(ctx);
    } else if (expected == &tls) {
      set_current(ctx);
    } else {
      busy_ = true;
    }
  }

  trace_context* previous_;
  trace_context* claimed_ = nullptr;
  bool busy_ = false;
};

/// Marks the task context whose queued work this thread is destroying without running
/// it (see prela::asio::task_executor). A span scope of that task that ends meanwhile
/// belongs to a coroutine frame destroyed while suspended: it ends as "cancelled", not
/// as a context mismatch.
class unwinding_mark {
 public:
  explicit unwinding_mark(trace_context* task) noexcept : previous_(tls.unwinding) { tls.unwinding = task; }
  unwinding_mark(const unwinding_mark&) = delete;
  unwinding_mark& operator=(const unwinding_mark&) = delete;
  ~unwinding_mark() { tls.unwinding = previous_; }

 private:
  trace_context* previous_;
};

/// A fork of the current context; a fresh empty context when this thread has none.
detail::ref_ptr<trace_context> fork_current();

/// Marks a flow as cancelled: spans it leaves by an exception end with error status
/// "cancelled" instead of the exception's description.
void mark_cancelled(trace_context& ctx) noexcept;

}  // namespace prela::detail
