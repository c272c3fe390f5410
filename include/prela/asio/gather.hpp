// prela::asio::gather — run awaitables concurrently, each in a flow of its own, and
// wait for all of them (Python's asyncio.gather, with isolated children).
#pragma once

#include <array>
#include <exception>
#include <iterator>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "prela/asio/co_spawn.hpp"
#include "prela/asio/context_executor.hpp"

namespace prela::asio {

namespace detail {

/// A child flow: its own fork of the current context (owned by the child's frame, see
/// owned_by_frame) and an executor carrying a weak reference to it.
/// The executor is the awaiting coroutine's, unwrapped as make_task_executor() does, so a
/// child's work does not pass two adapters.
struct child_flow {
  boost::asio::any_io_executor executor;
  prela::context_ref context;
};

template <class AnyIoExecutor = boost::asio::any_io_executor>
child_flow make_child(const std::type_identity_t<AnyIoExecutor>& ex) {
  if constexpr (!prela::instrumented) return {ex, {}};  // the child runs on `ex` as it is
  prela::context_ref ctx = prela::detail::fork_current();
  auto executor = make_task_executor(ex, ctx);
  return {std::move(executor), std::move(ctx)};
}

/// A strand over the executor beneath `ex`'s context adapter: the operands of && and ||
/// share it, because Asio's parallel_group emits cancellation signals from the thread of
/// the operand that completes and cancellation slots are not thread-safe.
template <class AnyIoExecutor = boost::asio::any_io_executor>
AnyIoExecutor serialized(const std::type_identity_t<AnyIoExecutor>& ex) {
  return boost::asio::make_strand(beneath_adapter<AnyIoExecutor>(ex));
}

template <class T>
using result_of_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// A gather child: owns its context for as long as it runs, as owned_by_frame does, and
/// turns a void result into std::monostate, in one coroutine frame rather than two.
template <class T, class Executor>
boost::asio::awaitable<result_of_t<T>, Executor> owned_value(prela::context_ref ctx,
                                                             boost::asio::awaitable<T, Executor> a) {
  (void)ctx;
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
    co_return std::monostate{};
  } else {
    co_return co_await std::move(a);
  }
}

/// The deferred operation that runs `a` as the child flow `child`.
template <class T, class Executor>
auto spawn_child(const child_flow& child, boost::asio::awaitable<T, Executor> a) {
  return boost::asio::co_spawn(child.executor, owned_by_frame(child.context, std::move(a)),
                               boost::asio::deferred);
}

/// The same for a gather child, whose result is a value even for void.
template <class T, class Executor>
auto spawn_child_value(const child_flow& child, boost::asio::awaitable<T, Executor> a) {
  return boost::asio::co_spawn(child.executor, owned_value(child.context, std::move(a)),
                               boost::asio::deferred);
}

template <class... R, class All, std::size_t... I>
std::tuple<R...> collect(All& all, std::index_sequence<I...>) {
  const auto& order = std::get<0>(all);
  const std::array<std::exception_ptr, sizeof...(I)> errors{std::get<1 + 2 * I>(all)...};
  for (std::size_t i : order) {
    if (errors[i]) std::rethrow_exception(errors[i]);
  }
  return std::tuple<R...>(std::move(std::get<2 + 2 * I>(all))...);
}

}  // namespace detail

/// Runs the awaitables concurrently, each under its own fork of the current context
/// (their spans are children of the span current here and never see each other's).
/// Waits for all of them; then rethrows the exception of the first child that failed,
/// if any. void results become std::monostate. Needs awaitables on any_io_executor.
template <class... T>
boost::asio::awaitable<std::tuple<detail::result_of_t<T>...>> gather(boost::asio::awaitable<T>... children) {
  const auto ex = co_await boost::asio::this_coro::executor;
  // One fork per child, all taken here, before any child runs.
  std::array<detail::child_flow, sizeof...(T)> flows;
  for (auto& f : flows) f = detail::make_child(ex);
  auto all = co_await [&]<std::size_t... I>(std::index_sequence<I...>) {
    return boost::asio::experimental::make_parallel_group(
               detail::spawn_child_value(flows[I], std::move(children))...)
        .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::deferred);
  }(std::index_sequence_for<T...>{});
  co_return detail::collect<detail::result_of_t<T>...>(all, std::index_sequence_for<T...>{});
}

/// The vector form: awaitable<std::vector<T>>, or awaitable<void> for T = void.
template <class T>
boost::asio::awaitable<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> gather(
    std::vector<boost::asio::awaitable<T>> children) {
  const auto ex = co_await boost::asio::this_coro::executor;
  using op = decltype(detail::spawn_child_value(std::declval<detail::child_flow>(),
                                                std::declval<boost::asio::awaitable<T>>()));
  std::vector<op> ops;
  ops.reserve(children.size());
  for (auto& c : children) ops.push_back(detail::spawn_child_value(detail::make_child(ex), std::move(c)));
  if (ops.empty()) {
    if constexpr (std::is_void_v<T>) {
      co_return;
    } else {
      co_return std::vector<T>{};
    }
  }
  auto [order, errors, values] =
      co_await boost::asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::deferred);
  for (std::size_t i : order) {
    if (errors[i]) std::rethrow_exception(errors[i]);
  }
  if constexpr (!std::is_void_v<T>) {
    co_return std::vector<T>(std::make_move_iterator(values.begin()), std::make_move_iterator(values.end()));
  }
}

}  // namespace prela::asio
