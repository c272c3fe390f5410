// prela::asio::context_executor — an Asio executor adapter that runs everything
// submitted through it under one trace context.
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

namespace detail {

template <class T>
struct is_context_executor : std::false_type {};
template <class E>
struct is_context_executor<context_executor<E>> : std::true_type {};

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

}  // namespace detail

/// Carries one trace context and runs every function submitted through it under that
/// context, restoring the thread's previous context afterwards. Copies share the
/// context (they are the same flow); use fork() for a new flow. Queries are forwarded
/// to the inner executor; require/prefer re-wrap the result with the same context.
///
/// Two kinds, one type: an adapter made by fork() owns a reference to its context (each
/// copy counts it); the adapters prela::asio::co_spawn, gather and the operators give a
/// task hold a weak reference instead, because the task's coroutine frame owns the
/// context and Asio copies an executor several times per resumption. 24 bytes over an
/// io_context executor, so any_io_executor stores it inline (32 over a thread_pool
/// executor and 40 over a strand, which any_io_executor keeps on the heap).
template <class Executor>
class context_executor {
 public:
  using inner_executor_type = Executor;

  /// An adapter owning a reference to ctx.
  /// The inner executor is taken by value and moved in: Asio re-wraps a work-tracking
  /// executor on every resumption (prefer(outstanding_work.tracked)), and each extra
  /// copy of one is a locked increment and decrement on its execution context.
  context_executor(Executor inner, context_ref ctx) noexcept(std::is_nothrow_move_constructible_v<Executor>)
      : inner_(std::move(inner)), ctx_(ctx.detach()), generation_(0), owning_(true) {}

  /// An adapter with a weak reference to a context owned elsewhere (a task's frame).
  context_executor(Executor inner, prela::detail::weak_context ctx) noexcept(
      std::is_nothrow_move_constructible_v<Executor>)
      : inner_(std::move(inner)), ctx_(ctx.ptr), generation_(ctx.generation), owning_(false) {}

  template <class Other>
    requires(!std::is_same_v<Other, Executor> && std::is_constructible_v<Executor, const Other&>)
  context_executor(const context_executor<Other>& other)  // NOLINT(google-explicit-constructor)
      : inner_(other.get_inner_executor()),
        ctx_(other.ctx_),
        generation_(other.generation_),
        owning_(other.owning_) {
    if (owning_) ctx_->add_ref();
  }

  context_executor(const context_executor& o) noexcept(std::is_nothrow_copy_constructible_v<Executor>)
      : inner_(o.inner_), ctx_(o.ctx_), generation_(o.generation_), owning_(o.owning_) {
    if (owning_) ctx_->add_ref();
  }
  context_executor(context_executor&& o) noexcept(std::is_nothrow_move_constructible_v<Executor>)
      : inner_(std::move(o.inner_)), ctx_(o.ctx_), generation_(o.generation_), owning_(o.owning_) {
    o.owning_ = false;  // the reference moved with us
  }
  context_executor& operator=(context_executor o) noexcept {
    std::swap(inner_, o.inner_);
    std::swap(ctx_, o.ctx_);
    std::swap(generation_, o.generation_);
    std::swap(owning_, o.owning_);
    return *this;
  }
  ~context_executor() {
    if (owning_) ctx_->release();
  }

  [[nodiscard]] const Executor& get_inner_executor() const noexcept { return inner_; }
  /// The carried context, or nullptr if this is a task's adapter and the task has ended.
  [[nodiscard]] trace_context* context() const noexcept { return owning_ ? ctx_ : weak().get(); }

  template <class F>
  void execute(F&& f) const {
    if (owning_) {
      boost::asio::execution::execute(
          inner_, detail::run_in_context<std::decay_t<F>>(prela::context_ref(ctx_), std::forward<F>(f)));
    } else {
      boost::asio::execution::execute(inner_,
                                      detail::run_in_task_context<std::decay_t<F>>(weak(), std::forward<F>(f)));
    }
  }

  template <class Property>
    requires boost::asio::can_query<const Executor&, const Property&>::value
  decltype(auto) query(const Property& p) const
      noexcept(boost::asio::is_nothrow_query<const Executor&, const Property&>::value) {
    return boost::asio::query(inner_, p);
  }

  template <class Property>
    requires boost::asio::can_require<const Executor&, const Property&>::value
  auto require(const Property& p) const {
    return rewrap(boost::asio::require(inner_, p));
  }

  template <class Property>
    requires boost::asio::can_prefer<const Executor&, const Property&>::value
  auto prefer(const Property& p) const {
    return rewrap(boost::asio::prefer(inner_, p));
  }

  friend bool operator==(const context_executor& a, const context_executor& b) noexcept {
    return a.ctx_ == b.ctx_ && a.generation_ == b.generation_ && a.inner_ == b.inner_;
  }
  friend bool operator!=(const context_executor& a, const context_executor& b) noexcept { return !(a == b); }

 private:
  template <class>
  friend class context_executor;

  [[nodiscard]] prela::detail::weak_context weak() const noexcept { return {ctx_, generation_}; }

  // By value: require/prefer results arrive as temporaries and are moved, not copied.
  template <class Inner>
  auto rewrap(Inner inner) const {
    using result = context_executor<Inner>;
    if (owning_) return result(std::move(inner), prela::context_ref(ctx_));
    return result(std::move(inner), weak());
  }

  Executor inner_;
  trace_context* ctx_;
  std::uint32_t generation_;
  bool owning_;
};

namespace detail {

/// Calls f with the context_executor inside `ex` and returns true, if `ex` is one or
/// type-erases one over a common inner executor (io_context, thread_pool, a strand of
/// io_context, any_io_executor); returns false otherwise.
template <class Executor, class F>
bool visit_context_executor(const Executor& ex, F&& f) {
  if constexpr (is_context_executor<Executor>::value) {
    f(ex);
    return true;
  } else if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    using io = boost::asio::io_context::executor_type;
    using pool = boost::asio::thread_pool::executor_type;
    using io_strand = boost::asio::strand<io>;
    if (const auto* e = ex.template target<context_executor<io>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<pool>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<io_strand>>()) return f(*e), true;
    if (const auto* e = ex.template target<context_executor<boost::asio::any_io_executor>>()) return f(*e), true;
    return false;
  } else {
    return false;
  }
}

}  // namespace detail

/// An adapter over `ex` holding a fork of the current context: work submitted through
/// it is a new flow whose spans are children of the span current here. Take one fork
/// per task: copies of one fork share its context.
template <class Executor>
  requires boost::asio::execution::is_executor<Executor>::value
context_executor<Executor> fork(const Executor& ex) {
  return context_executor<Executor>(ex, prela::detail::fork_current());
}

/// Forking an adapter forks the current context over the same inner executor.
template <class Executor>
context_executor<Executor> fork(const context_executor<Executor>& ex) {
  return context_executor<Executor>(ex.get_inner_executor(), prela::detail::fork_current());
}

}  // namespace prela::asio
