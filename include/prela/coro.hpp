// prela::preserve — keeps a coroutine's trace context across a co_await, for coroutine
// types other than boost::asio::awaitable (which prela::asio handles through its
// executor). No Asio needed.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

#include "prela/context.hpp"

namespace prela {
namespace detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}

/// Holds the awaiting coroutine's context (a reference, so it stays alive however the
/// coroutine is resumed) and puts it back on whichever thread resumes the coroutine.
template <class Awaitable>
class preserving_awaiter {
 public:
  explicit preserving_awaiter(Awaitable&& a)
      : awaitable_(std::forward<Awaitable>(a)), awaiter_(get_awaiter(std::forward<Awaitable>(awaitable_))) {}

  bool await_ready() { return awaiter_.await_ready(); }

  template <class Promise>
  auto await_suspend(std::coroutine_handle<Promise> h) {
    trace_context* c = peek_context();
    context_ = context_ref(c);
    return awaiter_.await_suspend(h);
  }

  decltype(auto) await_resume() {
    // Resumed possibly on another thread, under whatever context was current there.
    // The coroutine's own context is installed for the rest of its run; whoever resumed
    // it inline restores its own context afterwards (see preserve's documentation).
    if (context_) install_current(context_.get());
    return awaiter_.await_resume();
  }

 private:
  Awaitable awaitable_;
  std::remove_cvref_t<decltype(get_awaiter(std::declval<Awaitable&&>()))> awaiter_;
  context_ref context_;
};

}  // namespace detail

/// Saves this thread's current context and puts it back on destruction: for code that
/// resumes coroutines inline (a hand-written scheduler, an event loop) so that the
/// resumed coroutine's context does not stay installed afterwards.
///
///     { prela::saved_context keep; handle.resume(); }
class saved_context {
 public:
  saved_context() noexcept : previous_(detail::peek_context()) {}
  saved_context(const saved_context&) = delete;
  saved_context& operator=(const saved_context&) = delete;
  ~saved_context() { detail::set_current(previous_); }

 private:
  trace_context* previous_;
};

/// `co_await prela::preserve(some_awaitable)`: after the wrapped await completes, the
/// awaiting coroutine sees the trace context it had before, wherever it was resumed.
/// The code that resumes coroutines inline must restore its own context afterwards
/// (prela's executors do; a hand-written scheduler uses prela::saved_context). The
/// awaiter holds the context only while suspended: keep a span scope open for the
/// task's duration so that its context stays alive between awaits.
template <class Awaitable>
auto preserve(Awaitable&& a) {
  return detail::preserving_awaiter<Awaitable>(std::forward<Awaitable>(a));
}

}  // namespace prela
