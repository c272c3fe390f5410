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
boost::asio::awaitable<T, Executor> owned_by_frame(prela::context_ref ctx, boost::asio::awaitable<T, Executor> a) {
  (void)ctx;
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
  } else {
    co_return co_await std::move(a);
  }
}

template <class Executor>
auto inner_of(const Executor& ex) {
  if constexpr (is_context_executor<Executor>::value) {
    return ex.get_inner_executor();
  } else {
    return ex;
  }
}

/// A task adapter over `ex` with a weak reference to `ctx`. An any_io_executor around a
/// plain io_context executor, or around an adapter over a common executor, is unwrapped
/// to the concrete executor: the task's work then passes one adapter, not two, and over
/// an io_context executor the adapter (24 bytes) fits any_io_executor's inline storage.
template <class Executor>
auto make_task_executor(const Executor& ex, const prela::context_ref& ctx) {
  const auto weak = prela::detail::weak_context::of(ctx.get());
  if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    using io = boost::asio::io_context::executor_type;
    if (const io* plain = ex.template target<io>()) {
      return boost::asio::any_io_executor(task_executor<io>(*plain, weak));
    }
    boost::asio::any_io_executor result;
    const bool unwrapped = visit_context_executor(ex, [&](const auto& adapter) {
      using inner = std::decay_t<decltype(adapter.get_inner_executor())>;
      result = task_executor<inner>(adapter.get_inner_executor(), weak);
    });
    if (!unwrapped) {
      // Another executor: wrap it. Our function runs innermost, so the task's context
      // is the one installed while it runs even if `ex` installs one of its own.
      result = task_executor<boost::asio::any_io_executor>(ex, weak);
    }
    return result;
  } else {
    auto inner = inner_of(ex);
    return task_executor<decltype(inner)>(std::move(inner), weak);
  }
}

/// The completion token, bound to the spawner's context. `detached` is passed as is: its
/// handler runs no user code, and binding it would cost a fork of the context and, for
/// an any_io_executor, a heap-allocated executor per spawn.
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
  prela::context_ref ctx = prela::detail::fork_current();
  auto child = detail::make_task_executor(ex, ctx);
  return boost::asio::co_spawn(std::move(child), detail::owned_by_frame(std::move(ctx), std::move(a)),
                               detail::bind_completion(std::forward<CompletionToken>(token)));
}

/// Overload for an execution context (io_context, thread_pool).
template <class ExecutionContext, class T, class AwaitableExecutor,
          class CompletionToken =
              boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
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
template <class Executor, class F,
          class CompletionToken = boost::asio::default_completion_token_t<Executor>>
  requires(boost::asio::execution::is_executor<Executor>::value && std::is_invocable_v<F&>)
auto co_spawn(const Executor& ex, F&& f,
              CompletionToken&& token = boost::asio::default_completion_token_t<Executor>()) {
  return prela::asio::co_spawn(ex, detail::invoke_in_frame(std::decay_t<F>(std::forward<F>(f))),
                               std::forward<CompletionToken>(token));
}

template <class ExecutionContext, class F,
          class CompletionToken =
              boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
  requires(std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&> && std::is_invocable_v<F&>)
auto co_spawn(ExecutionContext& ctx, F&& f,
              CompletionToken&& token =
                  boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>()) {
  return prela::asio::co_spawn(ctx.get_executor(), std::forward<F>(f), std::forward<CompletionToken>(token));
}

}  // namespace prela::asio
