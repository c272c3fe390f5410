// Trace contexts: what "current" means, for threads, tasks and forks.
//
// A trace context belongs to one flow of control (a thread, a coroutine task, a
// callable handed to a pool). It holds the trace id, sampled flag, tracestate, baggage
// and the stack of active spans of that flow. A *fork* is taken wherever concurrent
// work is created: it starts with the same trace id, flags, tracestate and a copy of the
// baggage, and its first span is a child of the span current where the fork was taken.
// A fork never writes back to its origin. See docs/context.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "prela/baggage.hpp"
#include "prela/detail/ref_ptr.hpp"
#include "prela/detail/thread_state.hpp"
#include "prela/ids.hpp"
#include "prela/span.hpp"

namespace prela {

namespace detail {
class span_factory;
class activation;
class context_guard;
class flow_guard;
class context_pin;
void mark_cancelled(trace_context& ctx) noexcept;
void release_own_context() noexcept;

}  // namespace detail

class trace_context {
 public:
  /// Creates an empty context (no trace yet, sampled, no baggage, no spans).
  static detail::ref_ptr<trace_context> create();

  trace_context(const trace_context&) = delete;
  trace_context& operator=(const trace_context&) = delete;

  /// The current span's trace id; without a span, the trace this context was created
  /// for (new_trace_context, a fork); invalid when there is none yet.
  [[nodiscard]] prela::trace_id trace_id() const noexcept;
  /// Sampled flag of the current span, or of the context when no span is open.
  [[nodiscard]] bool is_sampled() const noexcept;
  /// Innermost active span of this context; for a fork with no span of its own, the
  /// span current where the fork was taken (possibly ended). nullptr when none.
  [[nodiscard]] span* current_span() const noexcept {
    if (foreign_ends_.load(std::memory_order_acquire) != 0) [[unlikely]]
      return current_span_slow();
    return st_.stack.empty() ? st_.fork_parent.get() : st_.stack.back();
  }
  /// W3C tracestate carried by this flow.
  [[nodiscard]] const std::string& trace_state() const noexcept;
  /// Number of spans opened in this context and not yet ended.
  [[nodiscard]] std::size_t depth() const noexcept;

  /// Baggage: key/value pairs that travel with the flow (and to other services).
  void set_baggage(std::string_view key, std::string_view value);
  [[nodiscard]] std::optional<std::string> get_baggage(std::string_view key) const {
    if (!st_.baggage) return std::nullopt;
    // Baggage is small: a linear scan comparing lengths first beats a binary search of
    // string comparisons. Inline: reading baggage is on hot paths (~5 ns).
    for (const auto& [k, v] : *st_.baggage) {
      if (k.size() == key.size() && k == key) return std::optional<std::string>(std::in_place, v);
    }
    return std::nullopt;
  }
  /// Removes the key; true if it was present.
  bool remove_baggage(std::string_view key);
  /// Every entry, sharing this context's storage (no copy).
  [[nodiscard]] prela::baggage baggage() const noexcept { return detail::baggage_access::make(st_.baggage); }
  /// Removes every baggage entry.
  void clear_baggage();
  /// Sets every entry of `entries` at once, their values winning over the ones this
  /// context has: one copy of the baggage, not one per key, and no copy at all when this
  /// context has none yet (it then shares `entries`' storage).
  void set_baggage(const prela::baggage& entries);
  /// Same; when this context has no baggage yet, it takes `entries`' storage over
  /// instead of sharing it (no reference count taken and dropped).
  void set_baggage(prela::baggage&& entries);
  /// The baggage entries sorted by key, without copying; nullptr when there are none.
  /// Valid until this context's baggage next changes.
  [[nodiscard]] const detail::baggage_entries* baggage_entries() const noexcept { return st_.baggage.get(); }

  /// A fork of this context, as taken at co_spawn, gather or copy_context_to_thread.
  [[nodiscard]] detail::ref_ptr<trace_context> fork() const;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Contexts live in type-stable memory (see context.cpp): a block is reused for other
  // contexts but never returned to the system, and its generation changes each time a
  // context in it dies. That makes weak references (detail::weak_context) safe to test.
  static void* operator new(std::size_t size);
  static void operator delete(void* p) noexcept;

 private:
  friend class detail::span_factory;
  friend class detail::activation;
  friend class detail::context_guard;
  friend class detail::flow_guard;
  friend class detail::context_pin;
  friend void detail::release_own_context() noexcept;
  friend class context_scope;
  friend trace_context& detail::create_own_context();
  friend class context_scope new_trace_context(struct new_trace_options);
  trace_context() = default;
  ~trace_context();

  // The part that new_trace_context() swaps out and back.
  struct state {
    prela::trace_id trace_id;      // for roots opened here; invalid: each root starts a trace
    bool sampled = true;           // false: roots opened here are not sampled
    bool explicit_trace = false;   // trace_id/sampled were set (new_trace_context, fork)
    bool random_trace_id = false;  // trace_id is random (W3C Level 2 flag)
    std::string trace_state;
    detail::baggage_ref baggage;
    detail::ref_ptr<span> fork_parent;  // span current where this fork was taken
    // Active spans, innermost last. Not owning: each is owned by the span_scope or
    // span_handle that pushed it, which removes it before letting go.
    std::vector<span*> stack;
  };
  /// Installs `other` as this context's state and leaves the previous one in `other`.
  void exchange_state(state& other) noexcept;
  void push(span* s);
  enum class removed { innermost, inner, absent };
  /// Removes exactly this span (normally the innermost). Only the thread running this
  /// context's flow may call it.
  removed remove(const span* s) noexcept;
  removed remove_after_foreign_ends(const span* s) noexcept;
  static removed unlink(std::vector<span*>& stack, const span* s) noexcept;
  /// Removal requested from a thread not running this flow: the span stays on the stack,
  /// marked, holding a reference, and the flow drops it at its next push or removal.
  /// current_span() and depth() skip it at once. Touches only atomics.
  void remove_foreign(span* s) noexcept;
  void drop_foreign_ends() noexcept;
  /// Drops the entries of this stack whose spans another thread ended (marked pending).
  void drop_pending_entries() noexcept;
  /// Marks a span as off every stack (its entry is being dropped), releasing the
  /// stack's reference if another thread ended it meanwhile.
  static void take_off_stack(span* s) noexcept;
  /// Takes every span of a stack that is being discarded off it.
  static void discard_stack(std::vector<span*>& stack) noexcept;
  [[nodiscard]] span* current_span_slow() const noexcept;
  /// This thread is destroying a coroutine frame of this flow while it is suspended
  /// (detail::unwinding_mark): the frame's scopes end with it, cancelled, not misused.
  [[nodiscard]] bool frame_unwinding_here() const noexcept {
    return !thread_own_ && detail::tls.unwinding == this;
  }

  // References. A thread's own context counts its thread's reference as thread_share,
  // and the pins its thread takes on it in owner_pins_ instead of here: the thread that
  // opens a span scope on its own context runs no locked instruction for it (see
  // detail::context_pin). A pin released by another thread, or after the thread's exit
  // began, is taken off refs_, so refs_ may sink below thread_share while the thread
  // lives. At thread exit release_own_context() folds owner_pins_ into refs_ and drops
  // thread_share: from then on refs_ is the plain count. 64 bits, so that no number of
  // pins ended elsewhere brings it near zero while the thread lives.
  static constexpr std::uint64_t thread_share = std::uint64_t{1} << 62;
  std::atomic<std::uint64_t> refs_{1};
  std::uint64_t owner_pins_ = 0;  // only the owning thread, until its exit
  // A thread's own context. Any other context (a fork: a task, a pool callable) is
  // current only while its flow runs, so a span scope of it that ends while another
  // context is current belongs to a coroutine frame destroyed while suspended.
  bool thread_own_ = false;
  // The flow was cancelled by prela (the loser of ||): its spans end as "cancelled".
  std::atomic<bool> cancelled_{false};
  friend void detail::mark_cancelled(trace_context& ctx) noexcept;
  // Non-zero: another thread may have ended spans of this stack (remove_foreign).
  std::atomic<std::uint32_t> foreign_ends_{0};
  // The thread that has this context installed now is in its block's header
  // (detail::owner_of): see flow_guard.
  state st_;
};

using context_ref = detail::ref_ptr<trace_context>;

namespace detail {
/// Keeps a context alive for a span scope, a span handle or a context_scope. Taken on
/// the thread's own context by that thread, it is a plain increment of the context's
/// owner_pins_, undone the same way when it is released on that thread before its exit
/// (the usual case: a scope ends where it began). Anywhere else it is a reference count.
/// The low bit records which was taken.
class context_pin {
 public:
  context_pin() noexcept = default;
  explicit context_pin(trace_context& ctx) noexcept : bits_(reinterpret_cast<std::uintptr_t>(&ctx)) {
    if (&ctx == tls.own) {
      ++ctx.owner_pins_;
      bits_ |= owner_bit;
    } else {
      ctx.add_ref();
    }
  }
  context_pin(context_pin&& other) noexcept : bits_(std::exchange(other.bits_, 0)) {}
  context_pin& operator=(context_pin&& other) noexcept {
    context_pin(std::move(other)).swap(*this);
    return *this;
  }
  context_pin(const context_pin&) = delete;
  context_pin& operator=(const context_pin&) = delete;
  ~context_pin() { reset(); }

  void swap(context_pin& other) noexcept { std::swap(bits_, other.bits_); }
  void reset() noexcept {
    if (bits_ == 0) return;
    trace_context* const c = get();
    // tls.own is the context only on its thread, until that thread's exit folds the
    // pins into the count (it is null from then on).
    if ((bits_ & owner_bit) != 0 && c == tls.own) {
      --c->owner_pins_;
    } else {
      c->release();
    }
    bits_ = 0;
  }
  [[nodiscard]] trace_context* get() const noexcept {
    return reinterpret_cast<trace_context*>(bits_ & ~owner_bit);
  }
  trace_context* operator->() const noexcept { return get(); }
  trace_context& operator*() const noexcept { return *get(); }
  explicit operator bool() const noexcept { return bits_ != 0; }

 private:
  static constexpr std::uintptr_t owner_bit = 1;
  std::uintptr_t bits_ = 0;
};
}  // namespace detail

/// The context of this thread or coroutine right now, created empty on demand.
inline trace_context& get_trace_context() {
  trace_context* c = detail::peek_context();
  return c != nullptr ? *c : detail::create_own_context();
}

/// The innermost active span, or nullptr.
inline span* current_span() noexcept {
  if constexpr (!instrumented) return nullptr;
  trace_context* c = detail::peek_context();
  return c != nullptr ? c->current_span() : nullptr;
}

/// The trace id of the current flow, if it has one.
std::optional<prela::trace_id> current_trace_id() noexcept;

void set_baggage(std::string_view key, std::string_view value);
inline std::optional<std::string> get_baggage(std::string_view key) {
  const trace_context* c = detail::peek_context();
  return c != nullptr ? c->get_baggage(key) : std::nullopt;
}
bool remove_baggage(std::string_view key);

struct new_trace_options {
  std::optional<prela::trace_id> trace_id;  // generated when empty
  bool sampled = true;  // false: spans of this trace are not sampled (the sampler decides otherwise)
  std::map<std::string, std::string> baggage;
};

/// Restores the previous trace state of its context on destruction. Move-only.
class context_scope {
 public:
  context_scope(context_scope&& other) noexcept;
  context_scope& operator=(context_scope&&) = delete;
  context_scope(const context_scope&) = delete;
  ~context_scope();

  [[nodiscard]] trace_context& context() const noexcept { return *ctx_; }
  [[nodiscard]] prela::trace_id trace_id() const noexcept { return ctx_->trace_id(); }

 private:
  friend context_scope new_trace_context(new_trace_options);
  context_scope() noexcept = default;
  detail::context_pin ctx_;  // empty: restores nothing
  trace_context::state saved_;
};

/// Starts an isolated trace in the current flow: a fresh trace id, no spans, only the
/// given baggage. Everything of the previous trace comes back when the scope ends.
/// Works inside coroutines: it changes the flow's own context in place, so it survives
/// every co_await.
[[nodiscard]] context_scope new_trace_context(new_trace_options options = {});

}  // namespace prela

// copy_context_to_thread is part of this header's API; it lives in its own.
#include "prela/copy_context.hpp"
