// prela::asio::context_executor and task_executor — Asio executor adapters that run
// everything submitted through them under one trace context.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/detail/executor_function.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "prela/asio/detail/repost.hpp"
#include "prela/asio/detail/resumption.hpp"
#include "prela/asio/detail/run_in_context.hpp"
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

/// True if the context referred to is the one installed on this thread.
inline bool installed_here(const context_ref& ctx) noexcept {
  return ctx.get() != nullptr && ctx.get() == prela::detail::peek_context();
}
inline bool installed_here(const prela::detail::weak_context& ctx) noexcept {
  return ctx.ptr != nullptr && ctx.ptr == prela::detail::peek_context() &&
         prela::detail::generation_of(ctx.ptr) == ctx.generation;
}

/// Both adapters: an inner executor and a reference to a context (`Ref`: counted for
/// context_executor, weak for task_executor), and `Run`, the wrapper that installs that
/// context around a submitted function. Queries are forwarded to the inner executor;
/// require/prefer results are re-wrapped with the same context.
template <template <class> class Adapter, class Executor, class Ref, template <class, class> class Run>
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
  /// The reference to it, as held (counted or weak).
  [[nodiscard]] const Ref& reference() const noexcept { return ctx_; }

  template <class F>
  void execute(F&& f) const {
    if constexpr (is_io_or_pool_executor<Executor>::value) {
      // The inner executor runs f right here, inline (blocking.possibly, on one of its
      // own threads), and this context is already installed here: a wrapper would
      // install nothing. This is the second function of every coroutine resumption
      // (the completion handler dispatched from the function that resumed it).
      if (boost::asio::query(inner_, boost::asio::execution::blocking) !=
              boost::asio::execution::blocking.never &&
          installed_here(ctx_) && inner_.running_in_this_thread()) {
        boost::asio::execution::execute(inner_, std::forward<F>(f));
        return;
      }
    }
    boost::asio::execution::execute(inner_, Run<std::decay_t<F>, Executor>(ctx_, inner_, std::forward<F>(f)));
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
  template <template <class> class, class, class, template <class, class> class>
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

/// The executor types a task executor is made over (make_task_executor() in co_spawn.hpp
/// reduces every executor to one of them), so that an any_io_executor holding an
/// adapter can be looked into: Asio's type erasure gives its target back only by type.
using io_executor = boost::asio::io_context::executor_type;
using pool_executor = boost::asio::thread_pool::executor_type;
using io_strand = boost::asio::strand<io_executor>;

template <class T>
inline constexpr bool is_task_base_v =
    std::is_same_v<T, io_executor> || std::is_same_v<T, pool_executor> || std::is_same_v<T, io_strand> ||
    std::is_same_v<T, boost::asio::any_io_executor>;

/// True for any_io_executor and the types derived from it (executor_with_default, what
/// `use_awaitable.as_default_on` gives).
template <class T>
inline constexpr bool is_any_io_executor_v = std::is_base_of_v<boost::asio::any_io_executor, T>;

/// Calls f with the adapter (context_executor or task_executor) inside `ex` and returns
/// true, if `ex` is one, or an any_io_executor (or a type derived from it) holding one
/// over one of the task base executors; returns false otherwise. Task executors are
/// looked for first: inside a coroutine, they are what `ex` holds.
template <class Executor, class F>
bool visit_context_executor(const Executor& ex, F&& f) {
  if constexpr (is_context_executor<Executor>::value) {
    f(ex);
    return true;
  } else if constexpr (is_any_io_executor_v<Executor>) {
    const boost::asio::any_io_executor& any = ex;
    using boost::asio::any_io_executor;
    if (const auto* e = any.template target<task_executor<io_executor>>()) return f(*e), true;
    if (const auto* e = any.template target<task_executor<any_io_executor>>()) return f(*e), true;
    if (const auto* e = any.template target<task_executor<pool_executor>>()) return f(*e), true;
    if (const auto* e = any.template target<task_executor<io_strand>>()) return f(*e), true;
    if (const auto* e = any.template target<context_executor<io_executor>>()) return f(*e), true;
    if (const auto* e = any.template target<context_executor<any_io_executor>>()) return f(*e), true;
    if (const auto* e = any.template target<context_executor<pool_executor>>()) return f(*e), true;
    if (const auto* e = any.template target<context_executor<io_strand>>()) return f(*e), true;
    return false;
  } else {
    return false;
  }
}

/// The task context an executor carries: the weak reference of the task executor it is
/// or holds; empty for anything else.
template <class Executor>
prela::detail::weak_context task_context_in(const Executor& ex) noexcept {
  if constexpr (is_context_executor<Executor>::value) {
    if constexpr (std::is_same_v<std::decay_t<decltype(ex.reference())>, prela::detail::weak_context>) {
      return ex.reference();
    } else {
      return {};
    }
  } else {
    prela::detail::weak_context found;
    visit_context_executor(ex, [&](const auto& adapter) {
      if constexpr (std::is_same_v<std::decay_t<decltype(adapter.reference())>,
                                   prela::detail::weak_context>) {
        found = adapter.reference();
      }
    });
    return found;
  }
}

// beneath_adapter and the other helpers over any_io_executor (task_executor_over in
// co_spawn.hpp, make_child and serialized in gather.hpp) are templates with the
// executor type as a defaulted, non-deduced parameter: their bodies, which instantiate
// any_io_executor's target<> for every adapter type, are then compiled only in
// translation units that call them, not in every one that includes <prela/asio.hpp>.

/// The executor beneath the adapter that `ex` holds, or `ex` itself when it holds none.
template <class AnyIoExecutor = boost::asio::any_io_executor>
AnyIoExecutor beneath_adapter(const std::type_identity_t<AnyIoExecutor>& ex) {
  AnyIoExecutor inner = ex;
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
  if constexpr (detail::is_any_io_executor_v<Executor>) {
    return context_executor<Executor>(Executor(detail::beneath_adapter(ex)), prela::detail::fork_current());
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
