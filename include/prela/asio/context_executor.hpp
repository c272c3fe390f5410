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

// --- Which coroutine a handler resumes ----------------------------------------------
//
// Asio resumes an awaitable coroutine by invoking a handler derived from
// detail::awaitable_thread (what use_awaitable and deferred operations complete with),
// wrapped in any number of binders and token adapters. Every such wrapper forwards
// Asio's associators (it must: that is how allocators, executors and cancellation slots
// reach the handler), so an associator of prela's own sees through all of them, Asio's
// and the user's alike. bind_context() uses it when an operation starts, where the
// handler's type is known: a handler that resumes a task's coroutine is bound to that
// task's own context, never to a fork. (Executors cannot do the same when the work
// runs: any_io_executor erases the function's type before an adapter inside it sees
// it.)

/// A coroutine resumption found inside a handler.
struct resumption {
  const void* handler;
  prela::detail::weak_context (*task_of)(
      const void* handler) noexcept;  // the task its frame's executor carries
};
/// What the associator gives for a handler that resumes no coroutine.
struct no_resumption {};

template <class E>
std::true_type derives_from_awaitable_thread(const boost::asio::detail::awaitable_thread<E>*);
std::false_type derives_from_awaitable_thread(...);
template <class T>
inline constexpr bool is_awaitable_thread_v =
    decltype(derives_from_awaitable_thread(static_cast<T*>(nullptr)))::value;

template <class Executor>
prela::detail::weak_context task_context_in(const Executor& ex) noexcept;

template <class T, class Default>
struct associated_resumption;

template <class T, class Default, class = void>
struct associated_resumption_impl {
  using type = no_resumption;
  static type get(const T&) noexcept { return {}; }
  static type get(const T&, const Default&) noexcept { return {}; }
};

template <class T, class Default>
struct associated_resumption_impl<T, Default, std::enable_if_t<is_awaitable_thread_v<T>>> {
  using type = resumption;
  static type get(const T& h) noexcept { return {&h, &task_of}; }
  static type get(const T& h, const Default&) noexcept { return get(h); }

 private:
  static prela::detail::weak_context task_of(const void* h) noexcept {
    return task_context_in(static_cast<const T*>(h)->get_executor());
  }
};

template <class T, class Default>
struct associated_resumption_impl<
    T, Default,
    std::enable_if_t<!is_awaitable_thread_v<T>,
                     std::void_t<typename boost::asio::associator<associated_resumption, T, Default>::type>>>
    : boost::asio::associator<associated_resumption, T, Default> {};

/// Asio associator: the coroutine resumption a handler carries.
template <class T, class Default = no_resumption>
struct associated_resumption : associated_resumption_impl<T, Default> {};

/// True if invoking a Handler resumes an Asio coroutine.
template <class Handler>
inline constexpr bool resumes_coroutine_v =
    std::is_same_v<typename associated_resumption<Handler>::type, resumption>;

/// The task context whose coroutine a handler resumes; nullptr if it resumes no
/// coroutine of a prela task (or the task has ended).
template <class Handler>
trace_context* task_resumed_by(const Handler& h) noexcept {
  if constexpr (resumes_coroutine_v<Handler>) {
    const resumption r = associated_resumption<Handler>::get(h);
    return r.task_of(r.handler).get();
  } else {
    return nullptr;
  }
}

// --- Handing a flow from one thread to the next ------------------------------------
//
// A flow's context is claimed while a function runs under it (flow_guard) and released
// when that function returns. A coroutine's next resumption can start on another thread
// as soon as the coroutine has suspended, a little before the function that ran it has
// returned on the first thread: the claim is still held, though nothing will touch the
// context any more. A function that finds its context installed elsewhere is therefore
// posted again to the same execution context: at once for the first few attempts, then
// after a timer whose delay doubles (20 us up to 6.4 ms, about 100 ms in all: long
// enough for an owner that the scheduler preempted in that window to run again). Only
// then does it run under its thread's own context, counted and reported as a mismatch.
// No thread ever waits or spins for a claim, and an owner that blocks (a handler waiting
// on work that needs its own flow) delays that work by the budget, never forever. Work
// that really runs concurrently in one flow (a misuse) ends up counted.

inline constexpr std::uint8_t immediate_reposts = 4;
inline constexpr std::uint8_t max_reposts = immediate_reposts + 16;

/// The delay before the n-th attempt to run a function whose flow was busy.
inline std::chrono::microseconds repost_delay(std::uint8_t n) noexcept {
  if (n <= immediate_reposts) return std::chrono::microseconds(0);
  const int doubling = std::min(n - immediate_reposts - 1, 8);
  return std::chrono::microseconds(20) * (1 << doubling);
}

/// Where a function can be posted again when its flow is busy. Over an io_context or a
/// thread_pool executor: that execution context (a pointer, no copy of a work-tracking
/// executor). Over any other executor, when `CopyOthers`: a copy of the executor
/// (context_executor's functions: handlers bound with bind_context and fork() flows,
/// which a task's resumption can find still claimed on another thread); otherwise
/// nowhere, and the function falls back at once (task executors over a strand, whose
/// resumptions the strand already serializes, are not made to copy it per resumption).
template <class Executor, bool CopyOthers>
class repost_target {
 public:
  explicit repost_target(const Executor& /*ex*/) noexcept {}
  template <class Run>
  bool post(Run&& /*run*/, std::uint8_t /*attempt*/) const {
    return false;
  }
};

template <class T>
struct is_io_or_pool_executor : std::false_type {};
template <class Allocator, std::uintptr_t Bits>
struct is_io_or_pool_executor<boost::asio::io_context::basic_executor_type<Allocator, Bits>>
    : std::true_type {};
template <class Allocator, unsigned int Bits>
struct is_io_or_pool_executor<boost::asio::thread_pool::basic_executor_type<Allocator, Bits>>
    : std::true_type {};

/// Posts `run` to `ex` now, or after repost_delay(attempt) on a timer of its own (the
/// function, and the coroutine frames it may own, are kept by the timer's handler and
/// destroyed unrun with it if the execution context is).
template <class Executor, class Run>
void post_again(const Executor& ex, Run&& run, std::uint8_t attempt) {
  const auto delay = repost_delay(attempt);
  if constexpr (std::is_constructible_v<boost::asio::any_io_executor, Executor>) {
    if (delay.count() != 0) {
      auto timer = std::make_shared<boost::asio::steady_timer>(ex, delay);
      timer->async_wait(
          [timer, r = std::forward<Run>(run)](const boost::system::error_code&) mutable { r(); });
      return;
    }
  }
  boost::asio::execution::execute(boost::asio::require(ex, boost::asio::execution::blocking.never),
                                  std::forward<Run>(run));
}

template <class Executor, bool CopyOthers>
  requires is_io_or_pool_executor<Executor>::value
class repost_target<Executor, CopyOthers> {
 public:
  explicit repost_target(const Executor& ex) noexcept
      : context_(&boost::asio::query(ex, boost::asio::execution::context)) {}
  template <class Run>
  bool post(Run&& run, std::uint8_t attempt) const {
    post_again(context_->get_executor(), std::forward<Run>(run), attempt);
    return true;
  }

 private:
  std::remove_cvref_t<decltype(boost::asio::query(std::declval<const Executor&>(),
                                                  boost::asio::execution::context))>* context_;
};

template <class Executor>
  requires(!is_io_or_pool_executor<Executor>::value &&
           boost::asio::can_require<const Executor&, boost::asio::execution::blocking_t::never_t>::value)
class repost_target<Executor, true> {
 public:
  explicit repost_target(const Executor& ex) : ex_(ex) {}
  template <class Run>
  bool post(Run&& run, std::uint8_t attempt) const {
    post_again(ex_, std::forward<Run>(run), attempt);
    return true;
  }

 private:
  Executor ex_;
};

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
