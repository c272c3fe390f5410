// prela::asio::traced — run an awaitable inside a span of its own.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "prela/tracer.hpp"

namespace prela::asio {

namespace detail {
template <class T, class Executor>
boost::asio::awaitable<T, Executor> in_span(std::string name, span_type type,
                                            boost::asio::awaitable<T, Executor> a) {
  auto scope = get_tracer().span(name, type);
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(a);
    } else {
      co_return co_await std::move(a);
    }
  } catch (...) {
    scope->record_exception(std::current_exception());
    throw;
  }
}
}  // namespace detail

/// `co_await traced("fetch", span_type::retrieval, fetch())`: the span is a child of
/// the current span, current while the awaitable runs, and ends when it completes
/// (with error status and the exception's type and message if it throws: caught,
/// recorded and rethrown, so no throw hook is needed for it). Without instrumentation
/// it returns `a` itself.
template <class T, class Executor>
boost::asio::awaitable<T, Executor> traced(std::string name, span_type type,
                                           boost::asio::awaitable<T, Executor> a) {
  if constexpr (!prela::instrumented) {
    return a;
  } else {
    return detail::in_span(std::move(name), type, std::move(a));
  }
}

}  // namespace prela::asio
