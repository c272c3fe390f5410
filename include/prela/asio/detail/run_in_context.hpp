// A submitted function bound to the context it must run under: run_in_context (a
// context the function keeps alive) and run_in_task_context (a task's, weakly held).
#pragma once

#include <new>
#include <type_traits>
#include <utility>

#include <boost/asio/detail/executor_function.hpp>

#include "prela/asio/detail/repost.hpp"
#include "prela/context.hpp"

namespace prela::asio::detail {

/// A submitted function bound to the context it must run under, holding a reference
/// (context_executor: executors that own their context, from fork()). The context is
/// claimed as flow_guard does.
template <class F, class Executor>
class run_in_context {
 public:
  run_in_context(context_ref ctx, const Executor& ex, F&& f)
      : ctx_(std::move(ctx)), repost_(ex), f_(std::move(f)) {}
  run_in_context(context_ref ctx, const Executor& ex, const F& f)
      : ctx_(std::move(ctx)), repost_(ex), f_(f) {}

  void operator()() {
    prela::detail::flow_guard guard(ctx_.get());
    if (guard.busy()) [[unlikely]] {
      if (reposts_ < max_reposts) {
        const std::uint8_t attempt = ++reposts_;
        if (repost_.post(std::move(*this), attempt)) return;
      }
      guard.fall_back();
    }
    std::move(f_)();
  }

 private:
  context_ref ctx_;
  repost_target<Executor, true> repost_;
  std::uint8_t reposts_ = 0;
  F f_;
};

/// True for function types that are empty once moved from or run, so that destroying
/// one in that state does nothing: Asio's type-erased executor_function (what
/// any_io_executor submits) clears its one pointer when moved from and before it runs.
/// run_in_task_context skips destroying it then; every other type is destroyed as usual.
template <class F>
inline constexpr bool empty_once_moved_or_run_v = std::is_same_v<F, boost::asio::detail::executor_function>;

/// The same for a task executor, which holds a weak reference: the task's coroutine
/// frame owns the context. Work that runs after the task has ended finds the context
/// gone and runs under the running thread's own context. A function destroyed without
/// running (an io_context destroyed with work queued, which destroys the coroutine
/// frames that work owned) is destroyed under the task's unwinding_mark, so that the
/// span scopes of those frames end as cancelled.
template <class F, class Executor>
class run_in_task_context {
 public:
  run_in_task_context(prela::detail::weak_context ctx, const Executor& ex, F&& f)
      : ctx_(ctx.ptr), generation_(ctx.generation), repost_(ex) {
    ::new (&f_) F(std::move(f));
  }
  run_in_task_context(prela::detail::weak_context ctx, const Executor& ex, const F& f)
      : ctx_(ctx.ptr), generation_(ctx.generation), repost_(ex) {
    ::new (&f_) F(f);
  }
  run_in_task_context(run_in_task_context&& other) noexcept(std::is_nothrow_move_constructible_v<F>)
      : ctx_(other.ctx_),
        generation_(other.generation_),
        reposts_(other.reposts_),
        pending_(std::exchange(other.pending_, false)),
        repost_(other.repost_) {
    ::new (&f_) F(std::move(other.f_));
  }
  run_in_task_context(const run_in_task_context& other)
    requires std::is_copy_constructible_v<F>
      : ctx_(other.ctx_),
        generation_(other.generation_),
        reposts_(other.reposts_),
        pending_(other.pending_),
        repost_(other.repost_) {
    ::new (&f_) F(other.f_);
  }
  run_in_task_context& operator=(const run_in_task_context&) = delete;
  run_in_task_context& operator=(run_in_task_context&&) = delete;
  // Asio destroys this wrapper three times per resumption (the temporary moved into the
  // operation, the operation's copy moved out to run, the copy that ran), never pending:
  // for an executor_function that is one test of pending_.
  [[gnu::always_inline]] ~run_in_task_context() {
    if (pending_) [[unlikely]] {
      destroy_unrun();
    } else if constexpr (!empty_once_moved_or_run_v<F>) {
      f_.~F();
    }
  }

  void operator()() {
    pending_ = false;  // spent from here on: destroying it later marks nothing
    prela::detail::flow_guard guard(ctx_, generation_);
    if (guard.busy()) [[unlikely]] {
      if (retry()) return;
      guard.fall_back();
    }
    std::move(f_)();
  }

 private:
  [[gnu::noinline]] void destroy_unrun() noexcept {
    if (ctx_ == nullptr) {
      f_.~F();
      return;
    }
    prela::detail::unwinding_mark mark(prela::detail::weak_context{ctx_, generation_}.get());
    f_.~F();
  }

  /// Posts this function again (its flow is busy); false when it has to run now.
  [[gnu::noinline]] bool retry() {
    if (reposts_ >= max_reposts) return false;
    pending_ = true;
    const std::uint8_t attempt = ++reposts_;
    if (repost_.post(std::move(*this), attempt)) return true;
    pending_ = false;
    return false;
  }

  // The task's context by weak reference (ctx_, generation_; ctx_ null when there was
  // none); the attempt count and the state share the reference's padding. pending_:
  // neither run nor moved from (f_ holds the work).
  trace_context* ctx_;
  std::uint32_t generation_;
  std::uint8_t reposts_ = 0;
  bool pending_ = true;
  repost_target<Executor, false> repost_;
  union {
    F f_;  // destroyed explicitly, under the task's unwinding_mark if never run
  };
};

}  // namespace prela::asio::detail
