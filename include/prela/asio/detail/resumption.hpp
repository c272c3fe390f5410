// Which coroutine a handler resumes: an Asio associator that sees through binders and
// token adapters to the awaitable_thread inside (context_executor.hpp, bind_context).
#pragma once

#include <type_traits>

#include <boost/asio/associator.hpp>
#include <boost/asio/awaitable.hpp>

#include "prela/context.hpp"

namespace prela::asio::detail {

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

/// The task context an executor carries (defined in context_executor.hpp).
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

}  // namespace prela::asio::detail
