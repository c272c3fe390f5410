// prela::asio::context_executor and task_executor — Asio executor adapters that run
// everything submitted through them under one trace context.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "prela/context.hpp"

namespace prela::asio {

template <class Executor>
class context_executor;
template <class Executor>
class task_executor;

namespace detail {

/// True for both adapters: context_executor and task_executor.
template <class T>
struct is_context_executor : std::false_type {};
template <class E>
struct is_context_executor<context_executor<E>> : std::true_type {};
template <class E>
struct is_context_executor<task_executor<E>> : std::true_type {};

/// A submitted function bound to the context it must run under, holding a reference
/// (executors that own their context: fork()).
template <class F>
class run_in_context {
 public:
  run_in_context(context_ref ctx, F&& f) : ctx_(std::move(ctx)), f_(std::move(f)) {}
  run_in_context(context_ref ctx, const F& f) : ctx_(std::move(ctx)), f_(f) {}

  void operator()() {
    prela::detail::context_guard guard(ctx_.get());
    std::move(f_)();
  }

 private:
  context_ref ctx_;
  F f_;
};

/// The same for a task executor: the task's coroutine frame owns the context, so a
/// weak reference suffices and costs nothing to copy. Work that runs after the task has
/// ended (Asio's own bookkeeping, or work posted to the task's executor that outlives
/// it) finds the context gone and runs under the thread's own context.
template <class F>
class run_in_task_context {
 public:
  run_in_task_context(prela::detail::weak_context ctx, F&& f) : ctx_(ctx), f_(std::move(f)) {}
  run_in_task_context(prela::detail::weak_context ctx, const F& f) : ctx_(ctx), f_(f) {}

  void operator()() {
    // While the task's work runs, nothing else can end the task, so the context checked
    // alive here stays alive until the task itself completes in this run.
    if (trace_context* c = ctx_.get()) {
      prela::detail::context_guard guard(c);
      std::move(f_)();
    } else {
      std::move(f_)();
    }
  }

 private:
  prela::detail::weak_context ctx_;
  F f_;
};

/// Both adapters: an inner executor and a reference to a context (`Ref`: counted for
/// context_executor, weak for task_executor), and `Run`, the wrapper that installs that
/// context around a submitted function. Queries are forwarded to the inner executor;
/// require/prefer results are re-wrapped with the same context.
template <template <class> class Adapter, class Executor, class Ref, template <class> class Run>
class adapter_base {
 public:
  using inner_executor_type = Executor;

  /// The inner executor is taken by value and moved in: Asio re-wraps a work-tracking
  /// executor on every resumption (prefer(outstanding_work.tracked)), and each extra
  /// copy of one is a locked increment and decrement on its execution context.
  adapter_base(Executor inner, Ref ctx) noexcept(std::is_nothrow_move_constructible_v<Executor>)
      : inner_(std::move(inner)), ctx_(std::move(ctx)) {}

  /// From the same adapter over another executor that converts to this one.
  template <class Other>
    requires(!std::is_same_v<Other, Executor> && std::is_constructible_v<Executor, const Other&>)
  adapter_base(const Adapter<Other>& other)  // NOLINT(google-explicit-constructor)
      : inner_(other.get_inner_executor()), ctx_(other.ctx_) {}

  [[nodiscard]] const Executor& get_inner_executor() const noexcept { return inner_; }
  /// The carried context; nullptr from a task_executor whose task has ended.
  [[nodiscard]] trace_context* context() const noexcept { return ctx_.get(); }

  template <class F>
  void execute(F&& f) const {
    boost::asio::execution::execute(inner_, Run<std::decay_t<F>>(ctx_, std::forward<F>(f)));
  }

  template <class Property>
    requires boost::asio::can_query<const Executor&, const Property&>::value
  decltype(auto) query(const Property& p) const
      noexcept(boost::asio::is_nothrow_query<const Executor&, const Property&>::value) {
    return boost::asio::query(inner_, p);
  }

  // By value: require/prefer results arrive as temporaries and are moved, not copied.
  template <class Property>
    requires boost::asio::can_require<const Executor&, const Property&>::value
  auto require(const Property& p) const {
    auto inner = boost::asio::require(inner_, p);
    return Adapter<decltype(inner)>(std::move(inner), ctx_);
  }

  template <class Property>
    requires boost::asio::can_prefer<const Executor&, const Property&>::value
  auto prefer(const Property& p) const {
    auto inner = boost::asio::prefer(inner_, p);
    return Adapter<decltype(inner)>(std::move(inner), ctx_);
  }

  /// Same context (same flow) and equal inner executors.
  friend bool operator==(const adapter_base& a, const adapter_base& b) noexcept {
    return a.ctx_ == b.ctx_ && a.inner_ == b.inner_;
  }

 private:
  template <template <class> class, class, class, template <class> class>
  friend class adapter_base;

  Executor inner_;
  Ref ctx_;
};

}  // namespace detail

/// Carries one trace context and runs every function submitted through it under that
/// context, restoring the thread's previous context afterwards. Copies share the
/// context (they are the same flow) and each holds a reference to it; use fork() for a
/// new flow. Queries are forwarded to the inner executor; require/prefer re-wrap the
/// result with the same context. 16 bytes over an io_context executor.
///
/// Tasks started by prela::asio::co_spawn, gather and the operators run on a
/// task_executor instead, which does the same with a weak reference.
template <class Executor>
class context_executor
    : public detail::adapter_base<context_executor, Executor, context_ref, detail::run_in_context> {
 public:
  using detail::adapter_base<context_executor, Executor, context_ref, detail::run_in_context>::adapter_base;
};

/// The executor of a task started by prela::asio::co_spawn, gather or the awaitable
/// operators (what `co_await boost::asio::this_coro::executor` holds inside one, in an
/// any_io_executor): runs every function submitted through it under the task's context,
/// like context_executor, but holds a weak reference. The task's coroutine frame owns
/// the context, and Asio copies, moves and destroys the executor several times per
/// resumption; a weak reference makes the adapter trivially copyable over a trivially
/// copyable inner executor, so those copies cost what they cost without prela. Work
/// that runs after the task has ended finds the context gone and runs under the
/// running thread's own context. 24 bytes over an io_context executor, so
/// any_io_executor stores it inline (32 over a thread_pool executor and 40 over a
/// strand, which any_io_executor keeps on the heap).
template <class Executor>
class task_executor : public detail::adapter_base<task_executor, Executor, prela::detail::weak_context,
                                                  detail::run_in_task_context> {
 public:
  using detail::adapter_base<task_executor, Executor, prela::detail::weak_context,
                             detail::run_in_task_context>::adapter_base;
};

namespace detail {

/// Calls f with the adapter (context_executor or task_executor) inside `ex` and returns
/// true, if `ex` is one or type-erases one over a common inner executor (io_context,
/// thread_pool, a strand of io_context, any_io_executor); returns false otherwise. Task
/// executors are looked for first: inside a coroutine, they are what `ex` holds.
template <class Executor, class F>
bool visit_context_executor(const Executor& ex, F&& f) {
  if constexpr (is_context_executor<Executor>::value) {
    f(ex);
    return true;
  } else if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    using io = boost::asio::io_context::executor_type;
    using pool = boost::asio::thread_pool::executor_type;
    using io_strand = boost::asio::strand<io>;
    using any = boost::asio::any_io_executor;
    if (const auto* e = ex.template target<task_executor<io>>()) return f(*e), true;
    if (const auto* e = ex.template target<task_executor<pool>>()) return f(*e), true;
    if (const auto* e = ex.template target<task_executor<io_strand>>()) return f(*e), true;
    if (const auto* e = ex.template target<task_executor<any>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<io>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<pool>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<io_strand>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<any>>()) return f(*e), true;
    return false;
  } else {
    return false;
  }
}

/// The executor beneath the adapter that `ex` holds, or `ex` itself when it holds none.
inline boost::asio::any_io_executor beneath_adapter(const boost::asio::any_io_executor& ex) {
  boost::asio::any_io_executor inner = ex;
  visit_context_executor(ex, [&](const auto& adapter) { inner = adapter.get_inner_executor(); });
  return inner;
}

}  // namespace detail

/// An adapter over `ex` holding a fork of the current context: work submitted through
/// it is a new flow whose spans are children of the span current here. Take one fork
/// per task: copies of one fork share its context. An any_io_executor that holds an
/// adapter (inside a coroutine, `co_await this_coro::executor`) is forked over that
/// adapter's inner executor, so the work passes one adapter, not two (with two, the
/// fork's context would still win: the outer adapter's function runs innermost).
template <class Executor>
  requires boost::asio::execution::is_executor<Executor>::value
context_executor<Executor> fork(const Executor& ex) {
  if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    return context_executor<Executor>(detail::beneath_adapter(ex), prela::detail::fork_current());
  } else {
    return context_executor<Executor>(ex, prela::detail::fork_current());
  }
}

/// Forking an adapter forks the current context over the same inner executor.
template <class Executor>
context_executor<Executor> fork(const context_executor<Executor>& ex) {
  return context_executor<Executor>(ex.get_inner_executor(), prela::detail::fork_current());
}
template <class Executor>
context_executor<Executor> fork(const task_executor<Executor>& ex) {
  return context_executor<Executor>(ex.get_inner_executor(), prela::detail::fork_current());
}

}  // namespace prela::asio
