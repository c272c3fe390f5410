// prela::asio::co_spawn — boost::asio::co_spawn with the coroutine in a flow of its own.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution_context.hpp>

#include "prela/asio/bind_context.hpp"
#include "prela/asio/context_executor.hpp"

namespace prela::asio {

namespace detail {

/// The task's own frame owns its context: the task's executors hold weak references,
/// which Asio can copy for free. Parameters live in the coroutine frame, so `ctx` lives
/// exactly as long as the task runs (or until its frame is destroyed).
template <class T, class Executor>
boost::asio::awaitable<T, Executor> owned_by_frame(prela::context_ref ctx,
                                                   boost::asio::awaitable<T, Executor> a) {
  (void)ctx;
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
  } else {
    co_return co_await std::move(a);
  }
}

/// A task executor over `ex` with a weak reference to `ctx`, of one of the types an
/// any_io_executor is looked into for (see is_task_base_v): a task over an io_context
/// executor, a thread_pool executor or a strand of an io_context is an adapter over
/// that type, anything else one over an any_io_executor. An adapter inside `ex` (an
/// executor taken from another task, a fork) is unwrapped first, so the task's work
/// passes one adapter, not two. Over an io_context executor the adapter (24 bytes) fits
/// any_io_executor's inline storage.
template <class AnyIoExecutor = boost::asio::any_io_executor>
AnyIoExecutor task_executor_over(const std::type_identity_t<AnyIoExecutor>& ex,
                                 prela::detail::weak_context weak) {
  const AnyIoExecutor inner = beneath_adapter<AnyIoExecutor>(ex);
  if (const auto* e = inner.template target<io_executor>()) return task_executor<io_executor>(*e, weak);
  if (const auto* e = inner.template target<pool_executor>()) return task_executor<pool_executor>(*e, weak);
  if (const auto* e = inner.template target<io_strand>()) return task_executor<io_strand>(*e, weak);
  return task_executor<AnyIoExecutor>(inner, weak);
}

template <class Executor>
auto make_task_executor(const Executor& ex, const prela::context_ref& ctx) {
  const auto weak = prela::detail::weak_context::of(ctx.get());
  if constexpr (is_any_io_executor_v<Executor>) {
    return task_executor_over(ex, weak);
  } else if constexpr (is_context_executor<Executor>::value) {
    return make_task_executor(ex.get_inner_executor(), ctx);
  } else if constexpr (is_task_base_v<Executor>) {
    return task_executor<Executor>(ex, weak);
  } else {
    return task_executor_over(boost::asio::any_io_executor(ex), weak);
  }
}

/// The completion token, bound to the spawner's context (bind_context: a handler that
/// resumes the spawning coroutine is bound to that coroutine's own context, so
/// `co_await co_spawn(..., use_awaitable)` resumes the awaiting task in its flow, whatever
/// its executor type). `detached` is passed as is: its handler runs no user code, and
/// binding it would cost a fork of the context and, for an any_io_executor, a
/// heap-allocated executor per spawn.
template <class CompletionToken>
decltype(auto) bind_completion(CompletionToken&& token) {
  if constexpr (std::is_same_v<std::decay_t<CompletionToken>, boost::asio::detached_t>) {
    return std::forward<CompletionToken>(token);
  } else {
    return bind_context(std::forward<CompletionToken>(token));
  }
}

}  // namespace detail

/// Like boost::asio::co_spawn, but the coroutine runs under a fork of the context
/// current at this call: its spans are children of the span current here, and after
/// every co_await its own context is current again. The completion handler runs under
/// the spawner's context. The coroutine runs on a task_executor over `ex`, so the
/// awaitable's executor type must accept one (any_io_executor, the default, does).
template <class Executor, class T, class AwaitableExecutor,
          class CompletionToken = boost::asio::default_completion_token_t<Executor>>
  requires(boost::asio::execution::is_executor<Executor>::value)
auto co_spawn(const Executor& ex, boost::asio::awaitable<T, AwaitableExecutor> a,
              CompletionToken&& token = boost::asio::default_completion_token_t<Executor>()) {
  if constexpr (!prela::instrumented) {
    return boost::asio::co_spawn(ex, std::move(a), std::forward<CompletionToken>(token));
  } else {
    prela::context_ref ctx = prela::detail::fork_current();
    auto child = detail::make_task_executor(ex, ctx);
    return boost::asio::co_spawn(std::move(child), detail::owned_by_frame(std::move(ctx), std::move(a)),
                                 detail::bind_completion(std::forward<CompletionToken>(token)));
  }
}

/// Overload for an execution context (io_context, thread_pool).
template <
    class ExecutionContext, class T, class AwaitableExecutor,
    class CompletionToken = boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
  requires(std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>)
auto co_spawn(ExecutionContext& ctx, boost::asio::awaitable<T, AwaitableExecutor> a,
              CompletionToken&& token =
                  boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>()) {
  return prela::asio::co_spawn(ctx.get_executor(), std::move(a), std::forward<CompletionToken>(token));
}

namespace detail {
// Keeps the function object (a lambda and its captures) alive in the coroutine frame
// for as long as the coroutine it returned runs.
template <class F>
auto invoke_in_frame(F f) -> std::invoke_result_t<F&> {
  co_return co_await f();
}
}  // namespace detail

/// Overload for a function object returning an awaitable, as boost::asio::co_spawn
/// accepts; the function object lives as long as the coroutine.
template <class Executor, class F, class CompletionToken = boost::asio::default_completion_token_t<Executor>>
  requires(boost::asio::execution::is_executor<Executor>::value && std::is_invocable_v<F&>)
auto co_spawn(const Executor& ex, F&& f,
              CompletionToken&& token = boost::asio::default_completion_token_t<Executor>()) {
  if constexpr (!prela::instrumented) {
    return boost::asio::co_spawn(ex, std::forward<F>(f), std::forward<CompletionToken>(token));
  } else {
    return prela::asio::co_spawn(ex, detail::invoke_in_frame(std::decay_t<F>(std::forward<F>(f))),
                                 std::forward<CompletionToken>(token));
  }
}

template <
    class ExecutionContext, class F,
    class CompletionToken = boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
  requires(std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&> &&
           std::is_invocable_v<F&>)
auto co_spawn(ExecutionContext& ctx, F&& f,
              CompletionToken&& token =
                  boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>()) {
  return prela::asio::co_spawn(ctx.get_executor(), std::forward<F>(f), std::forward<CompletionToken>(token));
}

}  // namespace prela::asio
